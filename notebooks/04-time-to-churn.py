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
# # 04 · Time to churn
#
# How soon customers leave, not only whether: the champion's survival companion, graded forward
# in time against Kaplan–Meier and the classifier, survival curves by segment and by theme, and
# the customers expected to leave soonest.

# %% Settings — the one cell to change for your own store
DATABASE_URL = None
MLFLOW_TRACKING_URI = None
DEMO_CUSTOMERS = 300
SEGMENT = None  # a customer attribute to split by; None: the model's first attribute

# %%
import matplotlib.pyplot as plt
import pandas as pd

from cxml.batch import survival_curves
from cxml.store.scores import at_risk
from cxml.tracking import churn_champion_version, churn_versions, load_churn_champion
from cxml.workbench import open_workbench

bench = open_workbench(DATABASE_URL, MLFLOW_TRACKING_URI, demo_customers=DEMO_CUSTOMERS)
store, settings = bench.store, bench.settings
predictor, version = load_churn_champion(settings)
assert predictor.survival is not None, "retrain the churn model: it has no time-to-churn companion"

# %% [markdown]
# ## How good is it? Graded on the latest snapshot the model never saw

# %%
run = next(v for v in churn_versions(settings) if v.version == churn_champion_version(settings))
pd.DataFrame(
    {
        name: {
            "concordance": run.metrics.get(f"time_{name}_concordance"),
            "integrated Brier": run.metrics.get(f"time_{name}_integrated_brier"),
        }
        for name in ("survival", "classifier", "kaplan_meier")
    }
)

# %% [markdown]
# ## Survival curves by segment and by theme

# %%
as_of = pd.Timestamp(bench.now).normalize()
segment = SEGMENT or predictor.spec.attributes[0]
fig, axes = plt.subplots(1, 2, figsize=(14, 4))
for ax, by in zip(axes, (segment, "theme"), strict=True):
    curves = survival_curves(
        store, predictor, as_of=as_of, by=by, bucket_customers=settings.bucket_customers
    )
    for group, curve in curves.groupby("group"):
        ax.step(
            curve["day"], curve["survival"], where="post", label=f"{group} (n={curve['n'].iloc[0]})"
        )
    ax.set_title(f"still a customer, by {by}")
    ax.set_xlabel("days from today")
    ax.legend(fontsize=7)
plt.tight_layout()

# %% [markdown]
# ## Who leaves soonest (latest stored scores)

# %%
soonest = sorted(
    (
        row
        for row in at_risk(store, today=bench.now, limit=1000)
        if row["expected_days"] is not None
    ),
    key=lambda row: row["expected_days"],
)[:10]
pd.DataFrame(soonest)[["customer_id", "probability", "survival_30", "survival_90", "expected_days"]]
