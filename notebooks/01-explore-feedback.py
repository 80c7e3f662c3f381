# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 01 · Explore the feedback
#
# Volumes by channel and language, NPS / CSAT / CES over time with their 95 % intervals, the
# themes customers raise (with what they said, redacted), and emerging themes. Every number
# comes from the library; this notebook only draws it.

# %% Settings — the one cell to change for your own store
DATABASE_URL = None  # e.g. "postgresql://user@host/db"; None: CXML_DATABASE_URL or ./cxml.db
MLFLOW_TRACKING_URI = None  # None: CXML_MLFLOW_TRACKING_URI or ./mlflow.db
DEMO_CUSTOMERS = 300  # an empty store gets a demo world of this size first

# %%
import matplotlib.pyplot as plt
import pandas as pd

from cxml.reporting import alert_table, metric_table
from cxml.store.analysis import theme_summary
from cxml.store.records import stats
from cxml.text.redact import redacted
from cxml.workbench import open_workbench

bench = open_workbench(DATABASE_URL, MLFLOW_TRACKING_URI, demo_customers=DEMO_CUSTOMERS)
store = bench.store

# %% [markdown]
# ## Volumes

# %%
counts = stats(store)
print(
    f"{counts['customers']:,} customers ({counts['customers_active']:,} active), "
    f"{counts['feedback']:,} feedback rows ({counts['feedback_with_text']:,} with text)"
)
fig, axes = plt.subplots(1, 2, figsize=(11, 3.5))
pd.Series(counts["feedback_by_channel"]).sort_values().plot.barh(ax=axes[0], title="by channel")
pd.Series(counts["feedback_by_language"]).sort_values().plot.barh(ax=axes[1], title="by language")
plt.tight_layout()
assert counts["feedback"] > 0

# %% [markdown]
# ## NPS, CSAT and CES by month, with 95 % intervals

# %%
fig, axes = plt.subplots(1, 3, figsize=(15, 3.5))
for ax, metric in zip(axes, ("nps", "csat", "ces"), strict=True):
    table = metric_table(store, metric, period="month")
    ax.plot(table["period"], table[metric], marker="o")
    ax.fill_between(table["period"], table["ci_low"], table["ci_high"], alpha=0.25)
    ax.set_title(metric.upper())
    ax.tick_params(axis="x", rotation=60)
plt.tight_layout()
metric_table(store, "nps", period="quarter").tail(4)

# %% [markdown]
# ## Themes, with what customers said (redacted)

# %%
themes = theme_summary(store, examples=2)
themes["examples"] = [redacted(list(e)) for e in themes["examples"]]
themes.head(10)

# %% [markdown]
# ## Emerging themes (latest month against the three before)

# %%
alerts = alert_table(store, period="month", only_alerts=False)
alerts.head(10)
