"""Drift: have the customers' words, the mix of who writes, or the churn model's inputs moved
away from what the models learned — and does the churn model still perform as its backtest
promised, now that the outcomes of an older snapshot are known?

Between a reference window and a current window (``[start, end)`` each):

- **Mixes** — theme (share of mentions per theme), sentiment label, sentiment score (ten bins
  on −1…1), language and channel: the population stability index (PSI) and a chi-square test
  of the counts (with Cramér's V as its size). A mix drifts when its PSI reaches a band *and*
  the test says the change is not noise (p < 0.01).
- **Churn features** — each of the champion's features, computed as of each window's end for
  the customers active then (a deterministic sample of at most ``max_customers``): PSI over
  ten quantile bins of the reference (numbers) or its categories (text), missing values a bin
  of their own.
- **Realised performance** (delayed labels) — the champion scored on the latest snapshot whose
  outcome window has closed by the current window's end (``end − horizon``), graded against
  what happened (ROC-AUC, Brier, predicted vs observed churn rate), next to what its backtest
  promised.

PSI = Σ (current share − reference share) · ln(current share / reference share), shares
floored at 10⁻⁴. The usual bands: below 0.1 stable, 0.1–0.25 moderate, 0.25 and above
significant.
"""

from __future__ import annotations

import contextlib
import re
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from cxml.errors import ConfigError
from cxml.store import Store
from cxml.store.drift import MIXES, mix_counts

MODERATE, SIGNIFICANT = 0.1, 0.25
SIGNIFICANCE = 0.01  # a mix's change must also pass a chi-square test at this level
AUC_DROP = 0.05  # realised ROC-AUC this far below the backtest's is an alert
CALIBRATION_RATIO = (0.8, 1.25)  # predicted / observed churn rate outside this is an alert
_FLOOR = 1e-4
_BINS = 10
_MAX_CATEGORIES = 20

Say = Callable[[str], None]


def _quiet(_: str) -> None:
    return None


@dataclass(frozen=True)
class Window:
    """A period of time, ``[start, end)``, and how the user wrote it."""

    label: str
    start: pd.Timestamp
    end: pd.Timestamp

    def to_dict(self) -> dict[str, str]:
        return {"label": self.label, "from": self.start.isoformat(), "to": self.end.isoformat()}


def parse_window(text: str, *, option: str = "period") -> Window:
    """A window from ``2025``, ``2025-Q2``, ``2025-04``, ``2025-04-07`` (one day), or a range
    ``A..B`` of two of those (from A's start to B's end: ``2025-01..2025-03``,
    ``2025-01-01..2025-03-31``)."""
    value = text.strip()
    try:
        if value.count("..") == 1:
            first, last = (parse_window(part, option=option) for part in value.split(".."))
            if last.end <= first.start:
                raise ValueError("it ends before it starts")
            return Window(value, first.start, last.end)
        if re.fullmatch(r"\d{4}", value):
            start = pd.Timestamp(f"{value}-01-01")
            return Window(value, start, start + pd.DateOffset(years=1))
        if quarter := re.fullmatch(r"(\d{4})-Q([1-4])", value, flags=re.IGNORECASE):
            start = pd.Timestamp(f"{quarter[1]}-{3 * int(quarter[2]) - 2:02d}-01")
            return Window(value.upper(), start, start + pd.DateOffset(months=3))
        if re.fullmatch(r"\d{4}-\d{2}", value):
            start = pd.Timestamp(f"{value}-01")
            return Window(value, start, start + pd.DateOffset(months=1))
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
            start = pd.Timestamp(value)
            return Window(value, start, start + pd.Timedelta(days=1))
    except ConfigError:
        raise
    except ValueError as error:
        raise ConfigError(
            f"{option} {text!r} is not a valid period ({error})", field=option, value=text
        ) from None
    raise ConfigError(
        f"{option} {text!r} is not a period: use 2025, 2025-Q2, 2025-04, 2025-04-07, or a "
        "range of two such as 2025-01..2025-03",
        field=option,
        value=text,
    )


def default_windows(today: pd.Timestamp) -> tuple[Window, Window]:
    """The last complete month as current, the three months before it as reference."""
    first = pd.Timestamp(today).normalize().replace(day=1)
    current_start = first - pd.DateOffset(months=1)
    reference_start = current_start - pd.DateOffset(months=3)
    current = Window(f"{current_start:%Y-%m}", current_start, first)
    last = current_start - pd.Timedelta(days=1)
    reference = Window(
        f"{reference_start:%Y-%m-%d}..{last:%Y-%m-%d}", reference_start, current_start
    )
    return reference, current


def windows(
    reference: str | None, current: str | None, *, today: pd.Timestamp
) -> tuple[Window, Window]:
    """The two windows a drift check compares, from what the user gave: the current one
    defaults to the last complete month, the reference one to the three months before the
    current one."""
    default_reference, default_current = default_windows(today)
    current_window = parse_window(current, option="current") if current else default_current
    if reference:
        return parse_window(reference, option="reference"), current_window
    if not current:
        return default_reference, current_window
    start = current_window.start - pd.DateOffset(months=3)
    last = current_window.start - pd.Timedelta(days=1)
    return parse_window(f"{start:%Y-%m-%d}..{last:%Y-%m-%d}"), current_window


def band(psi: float) -> str:
    """stable, moderate or significant, by the usual PSI bands."""
    if psi != psi:
        return "unknown"
    return "significant" if psi >= SIGNIFICANT else "moderate" if psi >= MODERATE else "stable"


def psi(reference: np.ndarray, current: np.ndarray) -> float:
    """The population stability index of two count (or share) vectors over the same bins."""
    r = np.asarray(reference, dtype=float)
    c = np.asarray(current, dtype=float)
    if r.sum() <= 0 or c.sum() <= 0:
        return float("nan")
    r = np.maximum(r / r.sum(), _FLOOR)
    c = np.maximum(c / c.sum(), _FLOOR)
    return float(np.sum((c - r) * np.log(c / r)))


def mix_drift(reference: pd.DataFrame, current: pd.DataFrame) -> dict[str, Any]:
    """PSI, chi-square and Cramér's V of two count tables (value, label, n), and the shares."""
    from scipy.stats import chi2_contingency

    table = reference.merge(current, on="value", how="outer", suffixes=("_reference", "_current"))
    table["label"] = table["label_current"].fillna(table["label_reference"])
    counts = table[["n_reference", "n_current"]].fillna(0).astype(int)
    n_reference, n_current = int(counts["n_reference"].sum()), int(counts["n_current"].sum())
    value = psi(counts["n_reference"].to_numpy(), counts["n_current"].to_numpy())
    chi2 = p_value = cramers_v = float("nan")
    observed = counts[(counts > 0).any(axis=1)].to_numpy().T
    if n_reference and n_current and observed.shape[1] >= 2:
        test = chi2_contingency(observed)
        chi2, p_value = float(test.statistic), float(test.pvalue)
        cramers_v = float(np.sqrt(chi2 / (observed.sum() * (min(observed.shape) - 1))))
    rows: list[dict[str, Any]] = [
        {
            "value": str(row.value),
            "label": str(row.label),
            "reference_n": int(n_r),
            "current_n": int(n_c),
            "reference_share": n_r / n_reference if n_reference else None,
            "current_share": n_c / n_current if n_current else None,
        }
        for row, n_r, n_c in zip(
            table.itertuples(index=False), counts["n_reference"], counts["n_current"], strict=True
        )
    ]
    rows.sort(key=lambda r: -abs((r["current_share"] or 0) - (r["reference_share"] or 0)))
    drifted = band(value) != "stable" and p_value == p_value and p_value < SIGNIFICANCE
    return {
        "psi": value,
        "band": band(value),
        "chi2": chi2,
        "p_value": p_value,
        "cramers_v": cramers_v,
        "drifted": bool(drifted),
        "reference_n": n_reference,
        "current_n": n_current,
        "rows": rows,
    }


def _sampled(ids: pd.Index, keep_per_mille: int) -> np.ndarray:
    """A deterministic sample of customer ids (by a hash of the id), the same in every window."""
    if keep_per_mille >= 1000:
        return np.ones(len(ids), dtype=bool)
    return np.array([zlib.crc32(str(i).encode()) % 1000 < keep_per_mille for i in ids], dtype=bool)


def feature_frame(
    store: Store,
    predictor: Any,
    as_of: pd.Timestamp,
    *,
    bucket_customers: int,
    max_customers: int,
) -> pd.DataFrame:
    """The champion's features as of ``as_of`` for (a sample of at most about
    ``max_customers`` of) the customers active then, read a bucket at a time."""
    from cxml.store.history import count_active, customer_buckets, read_history

    active = count_active(store, as_of)
    keep = 1000 if active <= max_customers else max(1, int(1000 * max_customers / active))
    with_text = predictor.spec.with_text if predictor.spec is not None else True
    parts = []
    for selection in customer_buckets(store, bucket_customers, signed_up_before=as_of):
        history = read_history(store, as_of, selection, with_text=with_text)
        if history.customers.empty:
            continue
        features = predictor.features(history)
        parts.append(features[_sampled(features.index, keep)])
    return pd.concat(parts) if parts else pd.DataFrame(columns=list(predictor.columns))


def feature_drift(reference: pd.DataFrame, current: pd.DataFrame) -> list[dict[str, Any]]:
    """PSI of every column, most drifted first."""
    out = []
    for column in reference.columns:
        r, c = reference[column], current[column]
        numeric = pd.api.types.is_numeric_dtype(r) and pd.api.types.is_numeric_dtype(c)
        if numeric:
            r_values = r.to_numpy(dtype=float)
            c_values = c.to_numpy(dtype=float)
            finite = r_values[np.isfinite(r_values)]
            edges = (
                np.unique(np.quantile(finite, np.linspace(0, 1, _BINS + 1)[1:-1]))
                if len(finite)
                else np.array([])
            )

            def binned(values: np.ndarray, edges: np.ndarray = edges) -> np.ndarray:
                index = np.where(
                    np.isfinite(values),
                    np.searchsorted(edges, values, side="right"),
                    len(edges) + 1,
                )
                return np.bincount(index.astype(int), minlength=len(edges) + 2)

            r_counts, c_counts = binned(r_values), binned(c_values)
            summary = {
                "kind": "number",
                "reference_mean": float(np.nanmean(r_values))
                if np.isfinite(r_values).any()
                else None,
                "current_mean": float(np.nanmean(c_values))
                if np.isfinite(c_values).any()
                else None,
            }
        else:
            r_text = r.astype(object).where(r.notna(), "(missing)").astype(str)
            c_text = c.astype(object).where(c.notna(), "(missing)").astype(str)
            top = r_text.value_counts().index[:_MAX_CATEGORIES].tolist()
            r_counts = r_text.where(r_text.isin(top), "(other)").value_counts()
            c_counts_series = c_text.where(c_text.isin(top), "(other)").value_counts()
            categories = sorted(set(r_counts.index) | set(c_counts_series.index))
            r_counts = r_counts.reindex(categories, fill_value=0).to_numpy()
            c_counts = c_counts_series.reindex(categories, fill_value=0).to_numpy()
            summary = {"kind": "category", "reference_mean": None, "current_mean": None}
        value = psi(r_counts, c_counts)
        out.append(
            {
                "feature": column,
                "psi": value,
                "band": band(value),
                **summary,
                "reference_missing": float(r.isna().mean()) if len(r) else None,
                "current_missing": float(c.isna().mean()) if len(c) else None,
            }
        )
    out.sort(key=lambda row: -(row["psi"] if row["psi"] == row["psi"] else -1))
    return out


def realised_performance(
    store: Store,
    predictor: Any,
    promised: dict[str, float],
    trained_as_of: pd.Timestamp | None,
    *,
    data_end: pd.Timestamp,
    bucket_customers: int,
) -> dict[str, Any]:
    """The champion on the latest snapshot whose outcomes are known by ``data_end``, graded
    against what happened, beside what its backtest promised."""
    from cxml.churn.evaluate import calibration_table, grade
    from cxml.churn.model import churn_probability
    from cxml.churn.training import training_set

    horizon = int(predictor.horizon_days)
    snapshot = (pd.Timestamp(data_end) - pd.Timedelta(days=horizon)).normalize()
    rows = training_set(
        store,
        [snapshot],
        horizon,
        predictor.spec,
        predictor.definition,
        data_end=data_end,
        bucket_customers=bucket_customers,
    )
    out: dict[str, Any] = {
        "snapshot": snapshot.date().isoformat(),
        "horizon_days": horizon,
        "outcomes_known_by": pd.Timestamp(data_end).date().isoformat(),
        "customers": len(rows.y),
        "promised_roc_auc": promised.get("roc_auc"),
        "promised_brier": promised.get("brier"),
    }
    if trained_as_of is not None and snapshot < trained_as_of:
        days = min((trained_as_of - snapshot).days, horizon)
        out["note"] = (
            f"the champion was trained on outcomes known until {trained_as_of.date()}, {days} of "
            f"this snapshot's {horizon} days: the grade flatters it (compare snapshots after "
            f"{trained_as_of.date()})"
        )
    if len(rows.y) == 0 or rows.y.min() == rows.y.max():
        out["status"] = "unknown"
        out["note"] = (
            out.get("note", "") + "; " if out.get("note") else ""
        ) + "too few customers, or all one outcome, to grade"
        return out
    probability = churn_probability(predictor.estimator, rows.X[list(predictor.columns)])
    graded = grade(rows.y, probability)
    predicted, observed = float(np.mean(probability)), float(np.mean(rows.y))
    ratio = predicted / observed if observed else float("inf")
    out.update(
        roc_auc=graded["roc_auc"],
        brier=graded["brier"],
        predicted_rate=predicted,
        observed_rate=observed,
        calibration_ratio=ratio,
        calibration=calibration_table(rows.y, probability),
    )
    problems = []
    if promised.get("roc_auc") is not None and graded["roc_auc"] < promised["roc_auc"] - AUC_DROP:
        problems.append(
            f"ROC-AUC {graded['roc_auc']:.3f} is {promised['roc_auc'] - graded['roc_auc']:.3f} "
            f"below the backtest's {promised['roc_auc']:.3f}"
        )
    if not CALIBRATION_RATIO[0] <= ratio <= CALIBRATION_RATIO[1]:
        problems.append(
            f"it predicted {predicted:.1%} churn where {observed:.1%} happened "
            f"(ratio {ratio:.2f}, expected {CALIBRATION_RATIO[0]}–{CALIBRATION_RATIO[1]})"
        )
    out["status"] = "degraded" if problems else "as promised"
    out["problems"] = problems
    return out


def drift_report(
    store: Store,
    reference: Window,
    current: Window,
    *,
    predictor: Any | None = None,
    model_version: str | None = None,
    promised: dict[str, float] | None = None,
    trained_as_of: pd.Timestamp | None = None,
    today: pd.Timestamp,
    bucket_customers: int,
    max_customers: int = 20_000,
    say: Say = _quiet,
) -> dict[str, Any]:
    """Every drift check between two windows, and the alerts they raise (see the module).

    ``predictor`` (the churn champion, store mode) adds the feature and performance checks;
    without it they are skipped and the report says so."""
    if reference.start >= reference.end or current.start >= current.end:
        raise ConfigError("a period must end after it starts")
    end = min(pd.Timestamp(current.end), pd.Timestamp(today))
    report: dict[str, Any] = {
        "reference": reference.to_dict(),
        "current": current.to_dict(),
        "model_version": model_version,
        "mixes": {},
        "features": [],
        "performance": None,
        "skipped": [],
    }
    for mix in MIXES:
        say(f"{mix} mix")
        report["mixes"][mix] = mix_drift(
            mix_counts(store, mix, reference.start, reference.end),
            mix_counts(store, mix, current.start, current.end),
        )
    if predictor is None or getattr(predictor, "mode", "") != "store":
        report["skipped"].append(
            "churn features and realised performance: no store-mode churn champion "
            "(`cxml train churn --as-of DATE`)"
        )
    else:
        say("churn features at the end of each period")
        frames = [
            feature_frame(
                store,
                predictor,
                window_end,
                bucket_customers=bucket_customers,
                max_customers=max_customers,
            )
            for window_end in (reference.end, end)
        ]
        report["features"] = feature_drift(*frames)
        report["feature_customers"] = {"reference": len(frames[0]), "current": len(frames[1])}
        say("realised performance on the latest snapshot with known outcomes")
        report["performance"] = realised_performance(
            store,
            predictor,
            promised or {},
            trained_as_of,
            data_end=end,
            bucket_customers=bucket_customers,
        )
    report["alerts"] = drift_alerts(report)
    return finite(report)


def finite(value: Any) -> Any:
    """``value`` with every NaN or infinite number replaced by None (JSON, JSONB and clients
    have no such numbers)."""
    if isinstance(value, dict):
        return {k: finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [finite(v) for v in value]
    if isinstance(value, float | np.floating) and not np.isfinite(value):
        return None
    if isinstance(value, np.generic):
        return value.item()
    return value


def drift_alerts(report: dict[str, Any]) -> list[dict[str, Any]]:
    """One alert per check that crossed a band (or a performance threshold)."""
    alerts = []
    for mix, result in report["mixes"].items():
        if result["drifted"]:
            top = result["rows"][0] if result["rows"] else None
            moved = (
                f"; most moved: {top['label']} {top['reference_share'] or 0:.1%} → "
                f"{top['current_share'] or 0:.1%}"
                if top
                else ""
            )
            alerts.append(
                {
                    "check": f"{mix} mix",
                    "band": result["band"],
                    "message": f"{mix} mix PSI {result['psi']:.3f} ({result['band']}), "
                    f"chi-square p {result['p_value']:.2g}{moved}",
                }
            )
    for row in report["features"]:
        if row["band"] in ("moderate", "significant"):
            alerts.append(
                {
                    "check": f"feature {row['feature']}",
                    "band": row["band"],
                    "message": f"feature {row['feature']} PSI {row['psi']:.3f} ({row['band']})",
                }
            )
    performance = report.get("performance") or {}
    for problem in performance.get("problems", []):
        alerts.append(
            {
                "check": "realised performance",
                "band": "degraded",
                "message": f"on the {performance['snapshot']} snapshot, {problem}",
            }
        )
    return alerts


def check_drift(
    settings: Any,
    store: Store,
    reference: Window,
    current: Window,
    *,
    today: pd.Timestamp,
    made_at: Any,
    keep: bool = True,
    champion: tuple[Any, str] | None = None,
    say: Say = _quiet,
) -> dict[str, Any]:
    """``drift_report`` with the churn champion (``champion``: a loaded (predictor, version);
    by default the registry's, when there is one), then — when ``keep`` — logged as an MLflow
    run (experiment ``cxml-drift``) and stored for ``GET /v1/drift``."""
    from cxml.errors import ModelNotFoundError
    from cxml.store.drift import write_report
    from cxml.tracking import churn_versions, load_churn_champion, log_drift

    predictor = version = None
    promised: dict[str, float] = {}
    trained_as_of = None
    if champion is not None:
        predictor, version = champion
    else:
        with contextlib.suppress(ModelNotFoundError):  # no champion: churn checks are skipped
            predictor, version = load_churn_champion(settings)
    if version is not None:
        run = next((v for v in churn_versions(settings) if v.version == version), None)
        if run is not None:
            promised = {
                k: run.metrics[f"model_{k}"]
                for k in ("roc_auc", "brier")
                if f"model_{k}" in run.metrics
            }
            if run.params.get("as_of"):
                trained_as_of = pd.Timestamp(run.params["as_of"])
    report = drift_report(
        store,
        reference,
        current,
        predictor=predictor,
        model_version=version,
        promised=promised,
        trained_as_of=trained_as_of,
        today=today,
        bucket_customers=settings.bucket_customers,
        say=say,
    )
    if keep:
        report["run_id"] = log_drift(settings, report)
        report["report_id"] = write_report(store, report, at=made_at)
    return report
