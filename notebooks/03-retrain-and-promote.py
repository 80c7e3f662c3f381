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
# The monthly routine, step by step: retrain the text pipeline, compare it with the champion on
# the newest comments and see what changed in the themes (lineage) before the text gate decides,
# train a churn challenger on today's data, compare it with the champion on
# **one yardstick** (the challenger's own backtest), and promote only if it wins by the margin.

# %% Settings — the one cell to change for your own store
DATABASE_URL = None
MLFLOW_TRACKING_URI = None
DEMO_CUSTOMERS = 300

# %%
import pandas as pd

from cxml.drift import Window, check_drift
from cxml.jobs.promote import promote_churn, promote_text
from cxml.jobs.train_churn import train_churn
from cxml.lines import drift_lines
from cxml.store.records import feedback_frame
from cxml.text.training import train_text_pipeline
from cxml.tracking import churn_champion_version, churn_versions, load_text_champion
from cxml.workbench import open_workbench

bench = open_workbench(DATABASE_URL, MLFLOW_TRACKING_URI, demo_customers=DEMO_CUSTOMERS)
store, settings = bench.store, bench.settings

# %% [markdown]
# ## First, has anything drifted? The last quarter of the data against the one before

# %%
end = pd.Timestamp(feedback_frame(store, with_text=True)["created_at"].max()).normalize()
end += pd.Timedelta(days=1)
current = Window("the last three months", end - pd.DateOffset(months=3), end)
reference = Window("the three before", end - pd.DateOffset(months=6), current.start)
drift = check_drift(
    settings, store, reference, current, today=bench.now, made_at=bench.now, keep=False
)
print("\n".join(drift_lines(drift, features=5)))

# %% [markdown]
# ## The text pipeline: a challenger graded beside the champion on the newest comments

# %%
text = train_text_pipeline(
    settings, frame=feedback_frame(store, with_text=True), champion=load_text_champion(settings)
)
print(f"cxml-text version {text['version']} graded on {text['heldout']}")
pd.DataFrame(
    {"challenger": text["grades"], f"champion {text['champion_version']}": text["champion_grades"]}
)

# %% [markdown]
# ## What the challenger does to the themes (lineage), then the text gate

# %%
text_decision = promote_text(settings, text["version"])
print("\n".join(text_decision.lineage))
print(("promoted: " if text_decision.promoted else "kept the champion: ") + text_decision.reason)
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
