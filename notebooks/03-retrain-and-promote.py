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
# # 03 · Retrain and promote
#
# The monthly routine, step by step: retrain the text pipeline and see what changed in the
# themes (lineage), train a churn challenger on today's data, compare it with the champion on
# **one yardstick** (the challenger's own backtest), and promote only if it wins by the margin.

# %% Settings — the one cell to change for your own store
DATABASE_URL = None
MLFLOW_TRACKING_URI = None
DEMO_CUSTOMERS = 300

# %%
import pandas as pd

from cxml.runs import promote_churn, train_churn
from cxml.store.records import feedback_frame
from cxml.text.training import train_text_pipeline
from cxml.tracking import churn_champion_version, churn_versions, load_text_champion
from cxml.workbench import open_workbench

bench = open_workbench(DATABASE_URL, MLFLOW_TRACKING_URI, demo_customers=DEMO_CUSTOMERS)
store, settings = bench.store, bench.settings

# %% [markdown]
# ## The text pipeline: retrained, and what happened to each theme

# %%
previous = load_text_champion(settings)
text = train_text_pipeline(
    settings,
    frame=feedback_frame(store, with_text=True),
    previous=previous[0] if previous else None,
)
print(
    f"cxml-text version {text['version']}: {text['themes']} themes, coverage {text['coverage']:.1%}"
)
pd.DataFrame(text["lineage"]).head(15)

# %% [markdown]
# ## A churn challenger on today's data, graded against the champion on its backtest

# %%
before = churn_champion_version(settings)
challenger = train_churn(settings, store=store, as_of=pd.Timestamp(bench.now).normalize())
side_by_side = pd.DataFrame(
    {
        "challenger": challenger["grades"]["model"],
        f"champion {before}": challenger["champion_grades"] or {},
    }
)
side_by_side.loc[["roc_auc", "pr_auc"]].plot.bar(title="on the challenger's backtest", rot=0)
side_by_side

# %% [markdown]
# ## The gate

# %%
decision = promote_churn(settings, challenger["version"], store=store)
print(("promoted: " if decision.promoted else "kept the champion: ") + decision.reason)
assert churn_champion_version(settings) == (challenger["version"] if decision.promoted else before)

# %% [markdown]
# ## Every version, as MLflow has them

# %%
pd.DataFrame(
    [
        {
            "version": v.version,
            "mode": v.mode,
            "as_of": v.params.get("as_of"),
            "roc_auc": v.metrics.get("model_roc_auc"),
            "champion_graded_here": v.metrics.get("champion_roc_auc"),
            "champion": v.version == churn_champion_version(settings),
        }
        for v in churn_versions(settings)
    ]
)
