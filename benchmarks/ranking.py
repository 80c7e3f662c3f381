"""Benchmark: the at-risk list's order and time to churn, forward in time (issue #28 §3, §4).

Usage: python -m benchmarks.ranking [--customers 2000] [--worlds 7:2026-12-06 29:2026-01-01]

Per world, SEED:END (seed 7 ending on the day of a run is the world `cxml demo` built that
day; seed 29 is a world nothing was tuned on, the held-out world): the
text pipeline is fitted on feedback before the validation snapshot, the served churn family on
the older snapshots; the latest complete snapshot's customers (all active at it) are the
held-out rows. Reported:

- ties: distinct values in the top 100 of the list, ordered by the calibrated probability
  (as stored, 6 decimals) and by the ranking score (ties broken by revenue at risk);
- ROC-AUC of the list's order (positions as scores) next to the model's own (raw score);
- Brier and expected calibration error (10 equal-count bins) of the probability shown next
  to the ranking score's (Platt scaling on the same out-of-fold scores);
- the calibration candidates for what is shown, for each candidate family (served or not),
  each fitted on the family's out-of-fold raw scores of the training snapshots (the family
  refitted; its fit is deterministic): Brier, ECE, distinct values (as stored, 6 decimals) in
  the top 100 of the family's list (its ranking score), and over the held-out rows in
  raw-score order how often the shown value ties or falls;
- time to churn: each candidate's concordance (Harrell's), integrated Brier score (days
  1-89), the median absolute error of the expected days restricted to the follow-up
  (against min(days to churn, follow-up), known for every customer), and how many distinct
  expected days the list's top 10 shows.
"""

from __future__ import annotations

import argparse
import tempfile
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd


def expected_calibration_error(y: np.ndarray, p: np.ndarray, bins: int = 10) -> float:
    from cxml.churn.evaluate import expected_calibration_error as ece

    return ece(y, p, bins)


def _isotonic_steps(x: np.ndarray, y: np.ndarray, test: np.ndarray) -> np.ndarray:
    """What was shown before (#28 §3): isotonic steps, ties broken by 1e-6 · raw probability."""
    from sklearn.isotonic import IsotonicRegression

    from cxml.churn.model import _sigmoid

    fitted = IsotonicRegression(out_of_bounds="clip", y_min=0.0, y_max=1.0).fit(_sigmoid(x), y)
    raw = _sigmoid(test)
    return np.clip(fitted.predict(raw) + 1e-6 * (raw - 0.5), 0.0, 1.0)


def _beta(x: np.ndarray, y: np.ndarray, test: np.ndarray) -> np.ndarray:
    """Beta calibration (Kull et al. 2017, three parameters): logistic regression on ln p and
    −ln(1 − p) of the raw probability p; a feature whose weight comes out negative is dropped
    and the rest refitted (as the authors' ``betacal`` does), so the map stays increasing."""
    from sklearn.linear_model import LogisticRegression

    def features(log_odds: np.ndarray) -> np.ndarray:
        return np.column_stack([-np.logaddexp(0, -log_odds), np.logaddexp(0, log_odds)])

    kept = [0, 1]
    while True:
        model = LogisticRegression(C=1e6, max_iter=1000).fit(features(x)[:, kept], y)
        if (model.coef_[0] >= 0).all() or len(kept) == 1:
            return np.asarray(model.predict_proba(features(test)[:, kept])[:, 1])
        kept = [k for k, w in zip(kept, model.coef_[0], strict=True) if w >= 0] or [1]


def _spline(x: np.ndarray, y: np.ndarray, test: np.ndarray) -> np.ndarray:
    """Spline calibration: logistic regression on a cubic B-spline basis of the raw log-odds
    (5 knots at quantiles, linear beyond them); nothing makes it increase."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import SplineTransformer

    model = make_pipeline(
        SplineTransformer(n_knots=5, knots="quantile", extrapolation="linear"),
        LogisticRegression(C=1.0, max_iter=2000),
    ).fit(x[:, None], y)
    return np.asarray(model.predict_proba(test[:, None])[:, 1])


def _venn_abers(x: np.ndarray, y: np.ndarray, test: np.ndarray) -> np.ndarray:
    """Inductive Venn-Abers: per test score, isotonic fits with it added as a non-churner (p0)
    and as a churner (p1); shown p1 / (1 − p0 + p1), Vovk and Petej's merged probability."""
    from sklearn.isotonic import IsotonicRegression

    values = np.unique(test)
    merged = np.empty(len(values))
    for i, score in enumerate(values):
        ends = []
        for label in (0, 1):
            fit = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip")
            fit.fit(np.append(x, score), np.append(y, label))
            ends.append(float(fit.predict([score])[0]))
        merged[i] = ends[1] / (1.0 - ends[0] + ends[1])
    return merged[np.searchsorted(values, test)]


def calibration_candidates(
    x: np.ndarray, y: np.ndarray, test: np.ndarray, platt: tuple[float, float]
) -> dict[str, np.ndarray]:
    """Each candidate's shown probability for the held-out raw log-odds ``test``, fitted on
    the out-of-fold raw log-odds ``x`` and labels ``y``; ``platt``: the model's (slope,
    intercept)."""
    from cxml.churn.model import CentredIsotonic, _sigmoid

    centred = CentredIsotonic.fit(x, y, platt[0])
    return {
        "isotonic steps (shown before)": _isotonic_steps(x, y, test),
        "centred isotonic, Platt tails (shown now)": centred.predict(test),
        "centred isotonic, flat tails": np.interp(test, centred.centres, centred.values),
        "Platt (the ranking score)": _sigmoid(platt[0] * test + platt[1]),
        "beta (3 parameters)": _beta(x, y, test),
        "spline (5 knots, logistic)": _spline(x, y, test),
        "Venn-Abers (inductive)": _venn_abers(x, y, test),
    }


def out_of_fold_scores(family: type, X: pd.DataFrame, y: np.ndarray) -> tuple[object, np.ndarray]:
    """The family fitted on (X, y) and the out-of-fold raw log-odds its calibration read (with
    a statement of leaving's weight, as the ranking score reads them)."""

    class Recording(family):  # type: ignore[misc, valid-type]
        def _learn_ranking(self, log_odds: np.ndarray, labels: np.ndarray) -> None:
            self.recorded = np.asarray(log_odds, dtype=float)
            super()._learn_ranking(log_odds, labels)

    model = Recording().fit(X, y)
    return model, model.recorded


def grade_candidates(
    candidates: dict[str, np.ndarray], y: np.ndarray, raw: np.ndarray, listed: np.ndarray
) -> dict[str, dict[str, float]]:
    """Brier, ECE, distinct values in the top 100 of the list (``listed``: its order), and
    over the rows in raw-score order, the steps where the stored value ties or falls."""
    from sklearn.metrics import brier_score_loss

    order = np.argsort(raw, kind="stable")
    rising = np.diff(raw[order]) > 0
    out = {}
    for name, p in candidates.items():
        stored = np.round(p, 6)
        step = np.diff(stored[order])[rising]
        out[name] = {
            "brier": float(brier_score_loss(y, p)),
            "ece": expected_calibration_error(y, p),
            "top100_distinct": len(np.unique(stored[listed[:100]])),
            "ties": int((step == 0).sum()),
            "falls": int((step < 0).sum()),
        }
    return out


@contextmanager
def analysed_world(
    customers: int, seed: int, end: date, horizon: int
) -> Iterator[tuple[Any, Any, list[pd.Timestamp], pd.Timestamp]]:
    """A generated world in a temporary SQLite store, its text analysed as ``cxml demo`` does
    (the pipeline fitted on feedback before the validation snapshot): the store, the training
    rows over four snapshots (latest first), the snapshot dates and the world's end."""
    from cxml.churn.predictor import ChurnDefinition
    from cxml.churn.training import feature_spec, snapshot_dates, training_set
    from cxml.demo import generate, write_world
    from cxml.ingest import ingest_file
    from cxml.settings import Settings
    from cxml.store import Store
    from cxml.store.records import feedback_frame
    from cxml.text.pipeline import TextPipeline
    from cxml.text.training import analyze_feedback

    with tempfile.TemporaryDirectory() as folder:
        now = datetime.combine(end, datetime.min.time()) + timedelta(days=1)
        world = generate(customers, seed=seed, end=end)
        paths = write_world(world, Path(folder))
        settings = Settings(database_url=f"sqlite:///{folder}/rank.db")
        store = Store.open(settings)
        ingest_file(store, "customers", paths["customers"], settings=settings, now=now)
        ingest_file(store, "feedback", paths["feedback"], settings=settings, now=now)
        as_of = pd.Timestamp(end)
        dates = snapshot_dates(as_of, horizon, 4)
        comments = feedback_frame(store, with_text=True)
        before = comments[pd.to_datetime(comments["created_at"]) < dates[0]]
        pipeline = TextPipeline().fit(before)
        analyze_feedback(store, pipeline, "bench", comments["feedback_id"].tolist(), now=now)
        spec = feature_spec(store, first_snapshot=dates[-1], as_of=as_of)
        rows = training_set(
            store,
            dates,
            horizon,
            spec,
            ChurnDefinition(),
            data_end=as_of,
            bucket_customers=settings.bucket_customers,
        )
        try:
            yield store, rows, dates, as_of
        finally:
            store.close()


def one_world(customers: int, seed: int, end: date, horizon: int) -> dict[str, object]:
    from sklearn.metrics import brier_score_loss, roc_auc_score

    from cxml.churn.predictor import ChurnDefinition
    from cxml.churn.survival import targets
    from cxml.churn.training import (
        CANDIDATES,
        RANKING,
        backtest,
        choose,
        days_to_churn,
        survival_backtest,
    )

    with analysed_world(customers, seed, end, horizon) as (store, rows, dates, as_of):
        graded, predictions = backtest(rows, dates[0])
        family = choose(graded)
        latest = rows.snapshot == dates[0].to_datetime64()
        X, y = rows.X[latest], rows.y[latest]
        shown = np.round(predictions["model"], 6)  # as stored
        ranking = predictions[RANKING]
        monthly = pd.to_numeric(X["monthly_value"], errors="coerce").to_numpy(dtype=float)
        revenue = np.nan_to_num(np.round(shown * monthly * horizon / 30.0, 2), nan=-1.0)
        ids = rows.customer_id[latest].astype(str)
        by_probability = np.lexsort((ids, -shown))  # today: probability, then id
        by_ranking = np.lexsort((ids, -revenue, -ranking))  # ranking, revenue (id: cursor only)
        positions = np.empty(len(y))
        positions[by_ranking] = np.arange(len(y), 0, -1)
        out: dict[str, object] = {
            "seed": seed,
            "family": family,
            "held_out": int(latest.sum()),
            "churn_rate": float(y.mean()),
            "distinct_probabilities": len(np.unique(shown)),
            "top100_distinct_probability": len(np.unique(shown[by_probability[:100]])),
            "top100_distinct_ranking": len(np.unique(ranking[by_ranking[:100]])),
            "auc_model": graded["model"]["roc_auc"],
            "auc_ranking_score": float(roc_auc_score(y, ranking)),
            "auc_list_order": float(roc_auc_score(y, positions)),
            "brier_shown": float(brier_score_loss(y, shown)),
            "ece_shown": expected_calibration_error(y, shown),
            "brier_platt_ranking": float(brier_score_loss(y, ranking)),
            "ece_platt_ranking": expected_calibration_error(y, ranking),
        }
        out["calibration"] = {}
        for name, candidate in CANDIDATES:  # both families, served or not
            model, out_of_fold = out_of_fold_scores(candidate, rows.X[~latest], rows.y[~latest])
            walked = model.walk(X, k=0)  # type: ignore[attr-defined]
            if name == family:  # the refit is the backtest's own
                assert np.array_equal(walked["probability"], predictions["model"])
            out["calibration"][name] = grade_candidates(  # type: ignore[index]
                calibration_candidates(
                    out_of_fold,
                    rows.y[~latest],
                    walked["raw"],
                    model.ranking_,  # type: ignore[attr-defined]
                ),
                y,
                walked["raw"],
                np.lexsort((ids, -walked["ranking"])),  # its own list
            )
        days = days_to_churn(store, rows, ChurnDefinition(), data_end=as_of)
        started = time.perf_counter()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            timing, chosen = survival_backtest(
                rows, days, dates[0], as_of, horizon, predictions["model"]
            )  # the curve reads the probability shown, as the trained companion does
        out["survival_seconds"] = time.perf_counter() - started
        out["survival_warnings"] = sorted({f"{w.category.__name__}: {w.message}" for w in caught})
        out["survival"] = timing
        out["survival_chosen"] = chosen
        event, follow = targets(days[latest], rows.snapshot[latest], as_of)
        out["follow_up_days"] = float(follow.max())
        out["follow_up_events"] = int(event.sum())
        return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--customers", type=int, default=2000)
    parser.add_argument("--worlds", nargs="+", default=["7:2026-12-06", "29:2026-01-01"])
    parser.add_argument("--horizon", type=int, default=90)
    args = parser.parse_args()
    for world in args.worlds:
        seed, end = int(world.split(":")[0]), date.fromisoformat(world.split(":")[1])
        started = time.perf_counter()
        result = one_world(args.customers, seed, end, args.horizon)
        result["seconds"] = time.perf_counter() - started
        survival = result.pop("survival")
        calibration = result.pop("calibration")
        print(f"\n# world seed {seed}, {args.customers:,} customers, as of {end}", flush=True)
        for key, value in result.items():
            print(f"{key}: {value:.4f}" if isinstance(value, float) else f"{key}: {value}")
        print("| family | shown probability | Brier | ECE | top 100: distinct | ties | falls |")
        print("|---|---|---|---|---|---|---|")
        for name, graded in calibration.items():  # type: ignore[union-attr]
            for candidate, g in graded.items():
                print(
                    f"| {name} | {candidate} | {g['brier']:.5f} | {g['ece']:.4f} "
                    f"| {g['top100_distinct']} | {g['ties']} | {g['falls']} |"
                )
        print(
            "| time to churn | concordance | integrated Brier "
            "| MedAE days, all (churned), within the follow-up |"
        )
        print("|---|---|---|---|")
        for name, g in survival.items():  # type: ignore[union-attr]
            if name.startswith("_"):
                continue
            print(
                f"| {name} | {g.get('concordance', float('nan')):.4f} "
                f"| {g['integrated_brier']:.5f} | {g['median_abs_error_days']:.1f} "
                f"({g['median_abs_error_days_churned']:.1f}) |",
                flush=True,
            )


if __name__ == "__main__":
    main()
