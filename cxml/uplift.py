"""Who is moved by a call: an uplift model trained on the randomised contact/control pulls.

The worklist ranked by risk calls the customers most likely to leave, but some of them leave
whatever is done and some are pushed away by a call. Once pulls (``cxml.pulls``) have passed
their horizon, each pulled customer has an arm chosen at random and a known outcome, so the
difference a call makes can be learnt per customer:

- a T-learner on scikit-learn: one gradient-boosted classifier of retention per arm, the
  estimate is P(retained | contact) − P(retained | control); it is bagged (``BAGS`` bootstrap
  fits) so each estimate comes with an 80 % interval from the bags' spread;
- features are the churn model's point-in-time features at the pull date
  (``cxml.features.customer_features``), the pre-contact score and the band;
- graded forward in time: fitted on the older pulls and scored on the newest ones by the Qini
  coefficient, beside random order (0) and the risk ranking. It ranks the worklist only when
  it beats both (``good_enough``).

``planted_world`` simulates pulls with a known heterogeneous effect (a group a call pushes
away) for the tests and ``benchmarks/uplift.py``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd

from cxml.churn.explain import Language
from cxml.contract import AsOf
from cxml.experiments import CONTACT, CONTROL
from cxml.features import FeatureSpec, customer_features
from cxml.store import Store
from cxml.store import pulls as stored
from cxml.store.history import Selection, attribute_names, channels_before, read_history

BAGS = 10
HELD_OUT_SHARE = 0.3
BANDS = {"low": 0.0, "medium": 1.0, "high": 2.0}
PUSH_AWAY = "a call may push them away"
PUSH_AWAY_JA = "連絡が離反を招くおそれ"


# --- the learner ---------------------------------------------------------------------------


def _classifier(seed: int) -> Any:
    from sklearn.ensemble import HistGradientBoostingClassifier

    return HistGradientBoostingClassifier(
        max_iter=80, max_depth=3, learning_rate=0.08, min_samples_leaf=30, random_state=seed
    )


def _retention(model: Any, x: np.ndarray) -> np.ndarray:
    """P(retained) from a fitted classifier (a bag whose arm kept everyone, or lost everyone,
    predicts that constant)."""
    classes = list(model.classes_)
    if len(classes) == 1:
        return np.full(len(x), float(classes[0]))
    return np.asarray(model.predict_proba(x)[:, classes.index(1)], dtype=float)


@dataclass
class Encoding:
    """How a frame of features becomes the learner's numbers: numeric columns as they are,
    text columns (stored attributes) as codes of the categories seen in training."""

    columns: list[str]
    categories: dict[str, list[str]] = field(default_factory=dict)

    @classmethod
    def fitted(cls, frame: pd.DataFrame) -> Encoding:
        """Columns with something to learn from (not missing everywhere), text ones coded."""
        categories = {}
        columns = [c for c in frame.columns if frame[c].notna().any()]
        for column in columns:
            values = frame[column]
            if not pd.api.types.is_numeric_dtype(values):
                numbers = pd.to_numeric(values, errors="coerce")
                if numbers.notna().sum() < 0.9 * values.notna().sum():
                    categories[column] = sorted(str(v) for v in values.dropna().unique())[:250]
        return cls(columns, categories)

    def matrix(self, frame: pd.DataFrame) -> np.ndarray:
        out = np.full((len(frame), len(self.columns)), np.nan)
        for j, column in enumerate(self.columns):
            if column not in frame:
                continue
            values = frame[column]
            if column in self.categories:
                codes = {c: i for i, c in enumerate(self.categories[column])}
                out[:, j] = [
                    np.nan if v is None or v != v else codes.get(str(v), np.nan) for v in values
                ]
            else:
                out[:, j] = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float)
        return out


@dataclass
class UpliftModel:
    """A bagged T-learner: per bag one retention classifier per arm. ``grades`` holds the
    forward-in-time grading the worklist decides on."""

    encoding: Encoding
    contact: list[Any]
    control: list[Any]
    spec: dict[str, Any] = field(default_factory=dict)
    grades: dict[str, Any] = field(default_factory=dict)

    @property
    def good_enough(self) -> bool:
        return bool(self.grades.get("good_enough"))

    def estimate(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Per row: ``uplift`` (retention with a call minus without, the bags' mean) and its
        80 % interval ``low``/``high`` over the bags."""
        x = self.encoding.matrix(frame)
        each = np.array(
            [
                _retention(a, x) - _retention(b, x)
                for a, b in zip(self.contact, self.control, strict=True)
            ]
        )
        return pd.DataFrame(
            {
                "uplift": each.mean(axis=0),
                "low": np.quantile(each, 0.1, axis=0),
                "high": np.quantile(each, 0.9, axis=0),
            },
            index=frame.index,
        )


def fit_uplift(
    features: pd.DataFrame, arms: np.ndarray, retained: np.ndarray, *, seed: int = 0
) -> UpliftModel:
    """A bagged T-learner of retention with vs without a call (bootstrap within each arm)."""
    encoding = Encoding.fitted(features)
    x = encoding.matrix(features)
    arms = np.asarray(arms, dtype=object)
    y = np.asarray(retained, dtype=int)
    rng = np.random.default_rng(seed)
    fitted: dict[str, list[Any]] = {CONTACT: [], CONTROL: []}
    for bag in range(BAGS):
        for arm in (CONTACT, CONTROL):
            rows = np.flatnonzero(arms == arm)
            if len(rows) == 0:
                raise ValueError(f"no {arm} rows to learn from")
            pick = rng.choice(rows, size=len(rows), replace=True)
            sample = x[pick]
            # a column missing for every customer of the sample is constant to this bag
            sample[:, np.isnan(sample).all(axis=0)] = 0.0
            fitted[arm].append(_classifier(seed * 100 + bag).fit(sample, y[pick]))
    return UpliftModel(encoding, fitted[CONTACT], fitted[CONTROL])


# --- grading -------------------------------------------------------------------------------


def qini_curve(score: np.ndarray, arms: np.ndarray, retained: np.ndarray) -> np.ndarray:
    """Incremental customers retained when calling the top k by ``score`` (k = 0 … n): contact
    retained minus control retained scaled to the contacts' number (Radcliffe's Qini)."""
    order = np.argsort(-np.asarray(score, dtype=float), kind="stable")
    treated = (np.asarray(arms, dtype=object)[order] == CONTACT).astype(float)
    kept = np.asarray(retained, dtype=float)[order]
    n_t = np.cumsum(treated)
    n_c = np.cumsum(1.0 - treated)
    r_t = np.cumsum(kept * treated)
    r_c = np.cumsum(kept * (1.0 - treated))
    with np.errstate(divide="ignore", invalid="ignore"):
        q = r_t - np.where(n_c > 0, r_c * n_t / n_c, 0.0)
    return np.concatenate([[0.0], q])


def qini_coefficient(score: np.ndarray, arms: np.ndarray, retained: np.ndarray) -> float:
    """Area between the Qini curve and the random line, per customer (0: no better than
    random order; higher: the customers a call moves come first)."""
    q = qini_curve(score, arms, retained)
    n = len(q) - 1
    if n == 0:
        return 0.0
    random_line = np.linspace(0.0, q[-1], n + 1)
    return float(np.mean(q - random_line) / n)


def _forward_split(frame: pd.DataFrame) -> tuple[np.ndarray, str]:
    """Rows to grade on: the newest pulls (about ``HELD_OUT_SHARE`` of rows) when there are
    two or more pulls; else a random share of the one pull."""
    pulls = frame.groupby("pull_id")["pulled_at"].first().sort_values()
    if len(pulls) >= 2:
        sizes = frame["pull_id"].value_counts()
        newest: list[Any] = []
        for pull_id in reversed(pulls.index.tolist()[1:]):
            newest.append(pull_id)
            if sizes[newest].sum() >= HELD_OUT_SHARE * len(frame):
                break
        return frame["pull_id"].isin(newest).to_numpy(), f"newest {len(newest)} pull(s)"
    rng = np.random.default_rng(0)
    return rng.random(len(frame)) < HELD_OUT_SHARE, "a random 30 % of the only pull"


def grade(
    frame: pd.DataFrame, features: pd.DataFrame, *, min_per_arm: int, seed: int = 0
) -> dict[str, Any]:
    """Fit on the older part and grade on the held-out part (Qini of uplift vs of risk); the
    model is good enough when it beats random order and the risk ranking there."""
    held, how = _forward_split(frame)
    arms = frame["arm"].to_numpy(dtype=object)
    retained = frame["retained"].to_numpy(dtype=int)
    train, test = ~held, held
    if (
        min((arms[test] == a).sum() for a in (CONTACT, CONTROL)) == 0
        or min((arms[train] == a).sum() for a in (CONTACT, CONTROL)) == 0
    ):
        return {"held_out": how, "good_enough": False, "why": "an arm is empty in a part"}
    model = fit_uplift(features[train], arms[train], retained[train], seed=seed)
    estimate = model.estimate(features[test])["uplift"].to_numpy()
    uplift_qini = qini_coefficient(estimate, arms[test], retained[test])
    risk_qini = qini_coefficient(
        frame["pre_contact_score"].to_numpy(dtype=float)[test], arms[test], retained[test]
    )
    good = uplift_qini > 0 and uplift_qini > risk_qini
    return {
        "held_out": how,
        "train_rows": int(train.sum()),
        "test_rows": int(test.sum()),
        "qini_uplift": round(uplift_qini, 5),
        "qini_risk": round(risk_qini, 5),
        "qini_random": 0.0,
        "good_enough": bool(good),
        "why": "beats random order and risk ranking on the held-out pulls"
        if good
        else "does not beat "
        + ("random order" if uplift_qini <= 0 else "the risk ranking")
        + " on the held-out pulls",
    }


# --- the store's randomised outcomes --------------------------------------------------------


def outcomes(store: Store, today: datetime) -> pd.DataFrame:
    """Every assignment of a pull whose horizon has passed, with ``retained`` (no churn by the
    pull's read date) and the pull's date."""
    ready = [p for p in stored.pull_rows(store) if p["read_after"] <= today]
    frame = stored.assignments_frame(store, [p["pull_id"] for p in ready])
    if frame.empty:
        return frame.assign(retained=pd.Series(dtype=int), pulled_at=pd.Series(dtype=object))
    read_after = pd.to_datetime(
        frame["pull_id"].map({p["pull_id"]: p["read_after"] for p in ready})
    )
    frame["pulled_at"] = frame["pull_id"].map({p["pull_id"]: p["pulled_at"] for p in ready})
    frame["retained"] = (frame["churn_date"].isna() | (frame["churn_date"] > read_after)).astype(
        int
    )
    return frame


def counts(frame: pd.DataFrame) -> dict[str, int]:
    """Randomised outcomes per arm."""
    return {
        "contact": int((frame["arm"] == CONTACT).sum()) if len(frame) else 0,
        "control": int((frame["arm"] == CONTROL).sum()) if len(frame) else 0,
    }


def feature_spec(store: Store, today: datetime) -> FeatureSpec:
    """The columns the uplift model learns from: the churn features without the per-theme
    ones (too many columns for a few hundred outcomes)."""
    return FeatureSpec(
        channels=tuple(channels_before(store, pd.Timestamp(today))),
        attributes=tuple(attribute_names(store)),
        with_text=True,
    )


def features_at(store: Store, spec: FeatureSpec, as_of: AsOf, rows: pd.DataFrame) -> pd.DataFrame:
    """``rows`` (customer_id, band, pre_contact_score) with the customers' features at
    ``as_of``; customers not active then get missing features."""
    ids = rows["customer_id"].astype(str).tolist()
    history = read_history(store, as_of, Selection.of(ids))
    known = customer_features(history, spec)
    out = known.reindex(ids).reset_index(drop=True)
    out["pre_contact_score"] = rows["pre_contact_score"].to_numpy(dtype=float)
    out["band_level"] = [BANDS.get(str(b), np.nan) for b in rows["band"]]
    return out


def training_features(store: Store, spec: FeatureSpec, frame: pd.DataFrame) -> pd.DataFrame:
    """Each assignment's features at its pull's date (point in time: nothing after it)."""
    parts = []
    for _pull_id, part in frame.groupby("pull_id", sort=False):
        features = features_at(store, spec, pd.Timestamp(part["pulled_at"].iloc[0]), part)
        features.index = part.index
        parts.append(features)
    return pd.concat(parts).loc[frame.index]


# --- ranking the worklist ------------------------------------------------------------------


@dataclass
class UpliftRanking:
    """What the worklist ranks with: the model (if any), its version, the status (ranked_by
    and the reason), the bands' observed contact vs control retention, the horizon."""

    model: UpliftModel | None
    version: str | None
    status: dict[str, Any]
    evidence: dict[str, dict[str, Any]]
    horizon_days: int = 90

    @property
    def ranks(self) -> bool:
        return self.model is not None and self.status["ranked_by"] == "uplift"


def status(
    outcome_counts: dict[str, int], min_per_arm: int, model: UpliftModel | None, version: str | None
) -> dict[str, Any]:
    """Whether the worklist is ranked by uplift or risk, and why, in words for the team."""
    contact, control = outcome_counts["contact"], outcome_counts["control"]
    base = {
        "outcomes": contact + control,
        "contact": contact,
        "control": control,
        "min_per_arm": min_per_arm,
        "model_version": version,
        "grades": None if model is None else model.grades,
    }
    ranked_by = "uplift" if model is not None and model.good_enough else "risk"
    out = {**base, "ranked_by": ranked_by}
    return {**out, "reason": status_reason(out)}


#: Why a graded uplift model does not rank (``grade``'s ``why``), in Japanese.
_WHY_JA = {
    "an arm is empty in a part": "は学習用か検証用の一方で片方の群が空のため評価できません",
    "does not beat random order on the held-out pulls": "は検証用プルでランダム順を上回っていません",
    "does not beat the risk ranking on the held-out pulls": "は検証用プルでリスク順を上回っていません",
}


def status_reason(status: dict[str, Any], language: Language = "en") -> str:
    """Why the worklist is ranked by uplift or by risk (``status``'s fields), in ``language``."""
    contact, control = status["contact"], status["control"]
    version, g, needed = status["model_version"], status["grades"], status["min_per_arm"]
    en = language == "en"
    if status["ranked_by"] == "uplift":
        if en:
            return (
                f"ranked by uplift: expected revenue saved = estimated uplift × value (uplift model "
                f"version {version}, held-out Qini {g['qini_uplift']:.4f} vs risk ranking "
                f"{g['qini_risk']:.4f})"
            )
        return (
            f"アップリフト順：救える見込みの収益＝連絡で継続確率がどれだけ変わるかの推定 × 価値"
            f"（アップリフトモデル バージョン {version}、検証用プルでの Qini {g['qini_uplift']:.4f}、"
            f"リスク順では {g['qini_risk']:.4f}）"
        )
    if g is not None:
        if en:
            qini = (
                f" (Qini {g['qini_uplift']:.4f} vs risk {g['qini_risk']:.4f})"
                if "qini_uplift" in g
                else ""
            )
            return (
                f"ranked by risk: the uplift model (version {version}) "
                f"{g.get('why', 'is not good enough')}{qini}"
            )
        qini = (
            f"（Qini {g['qini_uplift']:.4f}、リスク順では {g['qini_risk']:.4f}）"
            if "qini_uplift" in g
            else ""
        )
        why = _WHY_JA.get(str(g.get("why")), "はまだ十分ではありません")
        return f"リスク順：アップリフトモデル（バージョン {version}）{why}{qini}"
    if min(contact, control) < needed:
        if en:
            return (
                f"ranked by risk: {contact + control} randomised outcomes ({contact} contacted, "
                f"{control} held out), {needed} per arm needed — pull the worklist with a "
                "holdout (`cxml worklist pull`) and wait for the horizon"
            )
        return (
            f"リスク順：無作為化した結果は{contact + control}件（連絡{contact}、対照{control}）、"
            f"各群{needed}件が必要です。対照を取り置いて対応リストをプルし（`cxml worklist pull`）、"
            "判定期間が過ぎるのを待ってください"
        )
    if en:
        return (
            f"ranked by risk: {contact + control} randomised outcomes are enough, but no uplift "
            "model is trained yet — run `cxml train uplift`"
        )
    return (
        f"リスク順：無作為化した結果{contact + control}件で学習できますが、アップリフトモデルが"
        "まだ学習されていません。`cxml train uplift` を実行してください"
    )


def segment_evidence(frame: pd.DataFrame) -> dict[str, dict[str, Any]]:
    """Per band, the observed retention of contacted vs held-out customers of past pulls."""
    out: dict[str, dict[str, Any]] = {}
    if frame.empty:
        return out
    for band, part in frame.groupby("band"):
        contact = part[part["arm"] == CONTACT]["retained"]
        control = part[part["arm"] == CONTROL]["retained"]
        out[str(band)] = {
            "retained_contact": None if contact.empty else round(float(contact.mean()), 4),
            "retained_control": None if control.empty else round(float(control.mean()), 4),
            "contact": len(contact),
            "control": len(control),
        }
    return out


def rank_by_uplift(
    store: Store,
    items: list[dict[str, Any]],
    model: UpliftModel,
    *,
    today: datetime,
    horizon_days: int,
    evidence: dict[str, dict[str, Any]] | None = None,
) -> list[dict[str, Any]]:
    """``items`` (at-risk rows) with each one's estimated uplift and expected revenue saved
    (uplift × monthly value × the horizon's months), best first; a negative estimate is flagged
    (a call may push them away) with the interval and the band's observed retention."""
    if not items:
        return items
    saved = model.spec
    spec = FeatureSpec(
        theme_ids=tuple(saved.get("theme_ids", ())),
        channels=tuple(saved.get("channels", ())),
        attributes=tuple(saved.get("attributes", ())),
        with_text=bool(saved.get("with_text", True)),
    )
    rows = pd.DataFrame(
        {
            "customer_id": [i["customer_id"] for i in items],
            "band": [i["band"] for i in items],
            "pre_contact_score": [float(i["probability"]) for i in items],
        }
    )
    estimates = model.estimate(features_at(store, spec, pd.Timestamp(today), rows))
    months = horizon_days / (365.25 / 12)
    for item, (_, e) in zip(items, estimates.iterrows(), strict=True):
        value = float(item.get("monthly_value") or 0.0) * months
        uplift = float(e["uplift"])
        item["expected_saved"] = round(uplift * value, 2)
        item["uplift"] = {
            "estimate": round(uplift, 4),
            "low": round(float(e["low"]), 4),
            "high": round(float(e["high"]), 4),
            "push_away": uplift < 0,
            "note": PUSH_AWAY if uplift < 0 else None,
            "segment": (evidence or {}).get(str(item["band"])),
        }
    return sorted(items, key=lambda i: -i["expected_saved"])


# --- a planted world -----------------------------------------------------------------------


def planted_world(
    seed: int, *, n: int = 4000, effect: str = "heterogeneous", holdout: float = 0.5
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Simulated pulls with a known effect of a call: (features, outcomes).

    Features: tenure, monthly value, NPS, complaints about sales pressure, the pre-contact
    score and the band. ``effect="heterogeneous"``: a call keeps customers with a fixable
    problem (low NPS, no pressure complaints; +25 pts at most) and pushes away those who
    complained about sales pressure (−15 pts) — the latter are among the riskiest.
    ``effect="uniform"``: every call keeps 8 pts more. Outcomes: pull_id (four pulls in time
    order), arm (at random), retained, true_uplift, pre_contact_score, band.
    """
    rng = np.random.default_rng(seed)
    tenure = rng.gamma(2.0, 300.0, n)
    value = rng.lognormal(4.0, 0.5, n)
    nps = rng.integers(0, 11, n).astype(float)
    pressure = (rng.random(n) < 0.2).astype(float)
    logit = -0.3 - 0.25 * (nps - 5) - 0.0012 * tenure + 1.6 * pressure
    churn = 1 / (1 + np.exp(-logit))
    score = np.clip(churn + rng.normal(0, 0.05, n), 0.01, 0.99)
    band = np.where(score >= 0.5, "high", np.where(score >= 0.25, "medium", "low"))
    if effect == "uniform":
        true = np.full(n, 0.08)
    else:
        fixable = np.clip((7 - nps) / 7, 0, 1)
        true = np.where(pressure == 1, -0.15, 0.25 * fixable)
        true = np.minimum(true, churn)  # a call cannot keep more than would leave
    arm = np.where(rng.random(n) < holdout, CONTROL, CONTACT)
    p_retain = 1 - churn + np.where(arm == CONTACT, true, 0.0)
    retained = (rng.random(n) < np.clip(p_retain, 0, 1)).astype(int)
    features = pd.DataFrame(
        {
            "tenure_days": tenure,
            "monthly_value": value,
            "nps_last": nps,
            "theme_pressure": pressure,
            "pre_contact_score": score,
            "band_level": [BANDS[b] for b in band],
        }
    )
    outcomes_ = pd.DataFrame(
        {
            "pull_id": np.sort(rng.integers(1, 5, n)),
            "pulled_at": pd.NaT,
            "arm": arm,
            "retained": retained,
            "true_uplift": true,
            "pre_contact_score": score,
            "band": band,
        }
    )
    outcomes_["pulled_at"] = pd.Timestamp("2026-01-01") + pd.to_timedelta(
        outcomes_["pull_id"] * 30, unit="D"
    )
    return features, outcomes_
