"""A trained churn model as one typed object: the estimator and everything scoring needs with it.

Scoring, tracking (MLflow) and serving all take a ``ChurnPredictor``; none reaches into the
estimator's private state. ``features`` turns a point-in-time history into exactly the columns
the estimator was trained on, with the same churn definition.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd

from cxml.churn.model import ServedModel
from cxml.errors import ConfigError, ModelMismatchError
from cxml.features import FeatureSpec, customer_features, effective_churn_dates
from cxml.store.history import History

Mode = Literal["store", "flat"]


@dataclass(frozen=True)
class ChurnDefinition:
    """What churn means for a model: the stored churn date (``subscription``), no interaction
    for ``inactive_days`` (``inactivity``), or a flat table's ``label`` column."""

    kind: Literal["subscription", "inactivity", "label"] = "subscription"
    inactive_days: int | None = None
    label_column: str | None = None
    positive: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in ("subscription", "inactivity", "label"):
            raise ConfigError(
                f"churn definition {self.kind!r} is not one of: subscription, inactivity, label",
                field="definition",
                value=self.kind,
            )
        if self.kind == "inactivity" and not (self.inactive_days and self.inactive_days > 0):
            raise ConfigError(
                f"inactivity churn needs a positive number of days, got {self.inactive_days!r}",
                field="inactive_days",
                value=self.inactive_days,
            )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready, without empty fields."""
        return {k: v for k, v in self.__dict__.items() if v is not None}

    @classmethod
    def from_dict(cls, value: dict[str, Any] | None) -> ChurnDefinition:
        """From ``to_dict``'s form (or an older bundle's ``churn_definition``)."""
        value = dict(value or {})
        return cls(
            kind=value.get("kind", "subscription"),
            inactive_days=value.get("inactive_days"),
            label_column=value.get("label_column"),
            positive=value.get("positive"),
        )


@dataclass(frozen=True)
class ChurnPredictor:
    """A fitted ChurnModel with its feature columns, definition, base rate and horizon.

    ``mode``: ``store`` (features from the store's history as of a date, columns fixed by
    ``spec``) or ``flat`` (a table of customers, ``columns`` as trained).
    """

    estimator: ServedModel
    mode: Mode
    columns: tuple[str, ...]
    base_rate: float
    horizon_days: int
    definition: ChurnDefinition = field(default_factory=ChurnDefinition)
    spec: FeatureSpec | None = None
    theme_labels: dict[str, str] = field(default_factory=dict)
    #: The time-to-churn companion (``cxml.churn.survival.SurvivalModel``), store mode.
    survival: Any = None

    def features(self, history: History) -> pd.DataFrame:
        """The model's columns for the customers of ``history`` still customers under its
        churn definition (store mode)."""
        if self.mode != "store" or self.spec is None:
            raise ModelMismatchError(
                "this churn model was trained on a flat table: score a table of customers "
                "(`cxml score --customers FILE`), not the store",
                field="mode",
                value=self.mode,
            )
        return aligned(point_in_time_features(history, self.spec, self.definition), self.columns)

    def table(self, customers: pd.DataFrame) -> pd.DataFrame:
        """A flat table of customers (customer_id plus the training columns) as the model's
        columns, indexed by customer_id (flat mode)."""
        if self.mode != "flat":
            raise ModelMismatchError(
                "this churn model was trained on the store's history: score with "
                "`cxml score --as-of DATE`, not a table",
                field="mode",
                value=self.mode,
            )
        if "customer_id" not in customers.columns:
            raise ConfigError(
                "the table needs a customer_id column (map yours with --map)", field="customer_id"
            )
        return aligned(customers.set_index("customer_id"), self.columns)

    def describe(self) -> dict[str, Any]:
        """JSON-ready facts about the model (for GET /v1/models and run parameters)."""
        return {
            "mode": self.mode,
            "horizon_days": self.horizon_days,
            "features": len(self.columns),
            "base_rate": self.base_rate,
            "churn_definition": self.definition.to_dict(),
        }

    @classmethod
    def from_bundle(cls, bundle: dict[str, Any]) -> ChurnPredictor:
        """A predictor from the dict bundles versions before 0.2 registered."""
        columns = tuple(bundle["columns"])
        spec = None
        if bundle["mode"] == "store":
            attributes = tuple(c.removeprefix("attr_") for c in columns if c.startswith("attr_"))
            spec = FeatureSpec(
                theme_ids=tuple(bundle.get("theme_ids", ())),
                channels=tuple(bundle.get("channels", ())),
                attributes=attributes,
                with_text=bool(bundle.get("with_text", True)),
            )
        return cls(
            estimator=bundle["model"],
            mode=bundle["mode"],
            columns=columns,
            base_rate=float(bundle["base_rate"]),
            horizon_days=int(bundle["horizon_days"]),
            definition=ChurnDefinition.from_dict(bundle.get("churn_definition")),
            spec=spec,
            theme_labels=dict(bundle.get("theme_labels") or {}),
        )


def point_in_time_features(
    history: History, spec: FeatureSpec, definition: ChurnDefinition
) -> pd.DataFrame:
    """Features of the customers of ``history`` still customers at its instant under
    ``definition`` (training snapshots and scoring both come through here)."""
    if definition.kind == "inactivity":
        history = history.only(still_customers(history, definition))
    return customer_features(history, spec)


def aligned(features: pd.DataFrame, columns: tuple[str, ...] | list[str]) -> pd.DataFrame:
    """``features`` with exactly ``columns``, in order (absent ones missing)."""
    if list(features.columns) == list(columns):
        return features
    return features.reindex(columns=list(columns))


def still_customers(history: History, definition: ChurnDefinition) -> list[str]:
    """The customers of ``history`` not churned by ``as_of`` under ``definition`` (decided
    from their signup and feedback before it)."""
    interactions = pd.concat(
        [
            pd.DataFrame(
                {
                    "customer_id": history.customers["customer_id"].to_numpy(dtype=object),
                    "at": history.customers["signup_date"].to_numpy(dtype="datetime64[ns]"),
                }
            ),
            pd.DataFrame(
                {
                    "customer_id": history.feedback["customer_id"].to_numpy(dtype=object),
                    "at": history.feedback["created_at"].to_numpy(dtype="datetime64[ns]"),
                }
            ),
        ],
        ignore_index=True,
    )
    ids = history.customers["customer_id"].to_numpy(dtype=object)
    stored = pd.Series(np.full(len(ids), np.datetime64("NaT"), dtype="datetime64[ns]"), index=ids)
    churn = effective_churn_dates(stored, interactions, definition.to_dict(), history.as_of)
    churn = pd.to_datetime(churn.reindex(ids)).to_numpy(dtype="datetime64[ns]")
    with np.errstate(invalid="ignore"):
        gone = ~np.isnat(churn) & (churn < history.as_of.to_datetime64())
    return [str(i) for i in ids[~gone]]
