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
# # 02 · What drives churn
#
# Themes ranked by their impact on NPS and on churn (with intervals), the churn model's global
# drivers, one customer's reasons with the quotes behind them, and the champion's calibration
# and gain plots as its MLflow run logged them.

# %% Settings — the one cell to change for your own store
DATABASE_URL = None
MLFLOW_TRACKING_URI = None
DEMO_CUSTOMERS = 300

# %%
import json

import matplotlib.pyplot as plt
import mlflow
from IPython.display import Image, display

from cxml.reporting import driver_table
from cxml.store.scores import at_risk
from cxml.story import customer_story
from cxml.tracking import churn_champion_version, churn_versions
from cxml.workbench import open_workbench

bench = open_workbench(DATABASE_URL, MLFLOW_TRACKING_URI, demo_customers=DEMO_CUSTOMERS)
store, settings = bench.store, bench.settings

# %% [markdown]
# ## Themes that move NPS and churn

# %%
fig, axes = plt.subplots(1, 2, figsize=(14, 4))
nps = driver_table(store, "nps").head(8)
axes[0].errorbar(
    nps["impact"],
    nps["theme_label"],
    xerr=[nps["impact"] - nps["impact_ci_low"], nps["impact_ci_high"] - nps["impact"]],
    fmt="o",
)
axes[0].set_title("NPS points a theme costs (95 % interval)")
churn = driver_table(store, "churn", as_of=bench.now).head(8)
axes[1].errorbar(
    churn["excess_churn_comparable"],
    churn["theme_label"],
    xerr=[
        churn["excess_churn_comparable"] - churn["excess_ci_low"],
        churn["excess_ci_high"] - churn["excess_churn_comparable"],
    ],
    fmt="o",
)
axes[1].set_title("excess churn among customers who raised it (points)")
plt.tight_layout()

# %% [markdown]
# ## The churn champion: its run, global drivers and plots

# %%
champion = churn_champion_version(settings)
run = next(v for v in churn_versions(settings) if v.version == champion)
print(
    f"cxml-churn version {champion}: backtest ROC-AUC {run.metrics['model_roc_auc']:.3f} "
    f"(logistic {run.metrics['logistic_roc_auc']:.3f}, rule {run.metrics['rule_roc_auc']:.3f})"
)
mlflow.set_tracking_uri(settings.mlflow_tracking_uri)
drivers = json.loads(mlflow.artifacts.load_text(f"runs:/{run.run_id}/drivers.json"))
[(d["feature"], round(d["mean_abs_contribution"], 3)) for d in drivers[:10]]

# %%
for name in ("calibration.png", "gain.png"):
    display(Image(mlflow.artifacts.download_artifacts(f"runs:/{run.run_id}/plots/{name}")))

# %% [markdown]
# ## One customer at risk: the reasons, with their own (redacted) words

# %%
leader = at_risk(store, today=bench.now, limit=1)[0]
story = customer_story(store, leader["customer_id"])
print(f"{leader['customer_id']}: {leader['probability']:.1%} ({leader['band']})")
for reason in story["score"]["reasons"]:
    quote = reason.get("evidence", {}).get("quote")
    print(f"- {reason['text']}" + (f"\n    «{quote}»" if quote else ""))
