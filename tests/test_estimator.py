"""One contract for every cxml estimator: scikit-learn's (clone, get_params), a refit that
forgets the previous fit, a pickle round trip, a not-fitted error that names the call to make,
and inputs left as they were."""

from __future__ import annotations

import copy
import pickle
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone

from cxml.churn.model import ChurnModel, LinearChurnModel, LogisticBaseline, RuleBaseline
from cxml.demo import World
from cxml.errors import NotFittedError
from cxml.text.corrections import TaughtLeaveDetector
from cxml.text.intents import IntentDetector
from cxml.text.language import LanguageDetector
from cxml.text.leave import LeaveDetector
from cxml.text.nlp import Tokenizer
from cxml.text.pipeline import TextPipeline
from cxml.text.redact import Redactor
from cxml.text.sentiment import SentimentModel, weak_labels
from cxml.text.themes import ThemeModel


@dataclass
class Case:
    """How to fit one estimator on a part of the data, and what its output is."""

    make: Callable[[], Any]
    fit: Callable[[Any, Any], Any]
    output: Callable[[Any, Any], Any]
    call: str


def _tabular(seed: int) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    n = 400
    contract = rng.choice(["monthly", "annual"], n)
    tenure = rng.integers(1, 72, n).astype(float)
    y = (rng.random(n) < np.where(contract == "monthly", 0.4, 0.1) + 0.002 * (72 - tenure)).astype(
        int
    )
    return pd.DataFrame({"contract": contract, "tenure": tenure}), y


def _texts(world: World, part: int) -> pd.DataFrame:
    with_text = world.feedback[world.feedback["text"] != ""]
    english = with_text[with_text["language"].isin(["en", ""])].reset_index(drop=True)
    return english.iloc[part * 300 : (part + 1) * 300].reset_index(drop=True)


def _fit_leave(model: LeaveDetector, frame: pd.DataFrame) -> LeaveDetector:
    """Comments as clauses labelled by the demo world's planted leave sentences, plus those
    sentences themselves (so every fit sees both classes and several kinds)."""
    from cxml.demo import LEAVE_KINDS

    english = [s for s in LEAVE_KINDS if s.isascii()]
    texts = frame["text"].tolist() + english
    kinds = [next((LEAVE_KINDS[s] for s in english if s in t), None) for t in texts]
    labels = ["leave" if k else "not" for k in kinds]
    return model.fit(texts, ["en"] * len(texts), labels, kinds)


def _analysed(frame: pd.DataFrame) -> tuple[list[str], list[Any]]:
    texts = frame["text"].tolist()
    return texts, Tokenizer().analyse(texts, "en")


def _sentiment_fit(model: SentimentModel, frame: pd.DataFrame) -> Any:
    texts, analysed = _analysed(frame)
    labels = weak_labels(frame.apply(pd.to_numeric, errors="coerce")).tolist()
    labels = [
        label or ("positive" if "great" in t.lower() else None)
        for label, t in zip(labels, texts, strict=True)
    ]
    return model.fit(texts, analysed, ["en"] * len(texts), labels)


def _sentiment_out(model: SentimentModel, frame: pd.DataFrame) -> Any:
    texts, analysed = _analysed(frame)
    return model.proba(texts, analysed, "en")


def _themes_fit(model: ThemeModel, frame: pd.DataFrame) -> Any:
    _, analysed = _analysed(frame)
    return model.fit(analysed, ["en"] * len(analysed))


def _themes_out(model: ThemeModel, frame: pd.DataFrame) -> Any:
    texts, analysed = _analysed(frame)
    return [[(m.id, m.start, m.end) for m in ms] for ms in model.match(texts, analysed, "en")]


CASES: dict[str, Case] = {
    "ChurnModel": Case(
        lambda: ChurnModel(tune=False),
        lambda m, d: m.fit(*d),
        lambda m, d: m.predict_proba(d[0]),
        "fit(X, y)",
    ),
    "LinearChurnModel": Case(
        LinearChurnModel, lambda m, d: m.fit(*d), lambda m, d: m.predict_proba(d[0]), "fit(X, y)"
    ),
    "LogisticBaseline": Case(
        LogisticBaseline, lambda m, d: m.fit(*d), lambda m, d: m.predict_proba(d[0]), "fit(X, y)"
    ),
    "RuleBaseline": Case(
        RuleBaseline, lambda m, d: m.fit(*d), lambda m, d: m.predict_proba(d[0]), "fit(X, y)"
    ),
    "SentimentModel": Case(
        lambda: SentimentModel(min_texts=20),
        _sentiment_fit,
        _sentiment_out,
        "fit(texts, analysed, languages, labels)",
    ),
    "ThemeModel": Case(
        lambda: ThemeModel(n_themes=4), _themes_fit, _themes_out, "fit(analysed, languages)"
    ),
    "TextPipeline": Case(
        lambda: TextPipeline(themes=ThemeModel(n_themes=4)),
        lambda m, d: m.fit(d),
        lambda m, d: [
            (r["sentiment"], [t["id"] for t in r["themes"]]) for r in m.analyze(d["text"].tolist())
        ],
        "fit(frame)",
    ),
    "LanguageDetector": Case(
        LanguageDetector,
        lambda m, d: m.fit(d["text"]),
        lambda m, d: m.detect(d["text"].tolist()),
        "fit(...)",
    ),
    "Redactor": Case(
        Redactor,
        lambda m, d: m.fit(d["text"]),
        lambda m, d: m.transform(d["text"].tolist()),
        "fit(...)",
    ),
    "IntentDetector": Case(
        IntentDetector,
        lambda m, d: m.fit(d["text"]),
        lambda m, d: m.detect(d["text"].tolist(), "en"),
        "fit(...)",
    ),
    "TaughtLeaveDetector": Case(
        TaughtLeaveDetector,
        lambda m, d: m.fit(
            d["text"].tolist(),
            ["en"] * len(d),
            ["switch" if i % 2 else "not" for i in range(len(d))],
        ),
        lambda m, d: m.detect(d["text"].tolist(), "en"),
        "fit(clauses, languages, verdicts)",
    ),
    "LeaveDetector": Case(
        LeaveDetector,
        _fit_leave,
        lambda m, d: m.detect(d["text"].tolist(), "en"),
        "fit(clauses, languages, labels, kinds)",
    ),
}


STATELESS = {"LanguageDetector", "Redactor"}


def _data(name: str, world: World, part: int) -> Any:
    if name in ("ChurnModel", "LinearChurnModel", "LogisticBaseline", "RuleBaseline"):
        return _tabular(part)
    return _texts(world, part)


def _assert_unchanged(now: Any, before: Any) -> None:
    if isinstance(now, tuple):
        for a, b in zip(now, before, strict=True):
            _assert_unchanged(a, b)
    elif isinstance(now, pd.DataFrame):
        pd.testing.assert_frame_equal(now, before)
    else:
        assert np.array_equal(now, before)


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, np.ndarray):
        return bool(np.array_equal(a, b))
    return bool(a == b)


@pytest.mark.parametrize("name", sorted(CASES))
def test_every_estimator_keeps_the_contract(name: str, world: World) -> None:
    case = CASES[name]
    first, second = _data(name, world, 0), _data(name, world, 1)
    untouched = copy.deepcopy(first)
    estimator = case.make()

    # used before fit: one error, the built-ins callers catch, naming the call to make
    if name in STATELESS:  # nothing to learn: usable before fit, as scikit-learn allows
        assert _same(case.output(case.make(), first), case.output(case.make().fit(), first))
    else:
        with pytest.raises(NotFittedError) as raised:
            case.output(estimator, first)
        assert str(raised.value).startswith(
            f"{type(estimator).__name__} is not fitted yet: call {case.call}"
        )
    error = NotFittedError(estimator)
    assert isinstance(error, ValueError) and isinstance(error, AttributeError)

    # clone: same parameters, nothing learned
    twin = clone(estimator)
    assert twin.get_params().keys() == estimator.get_params().keys()
    assert case.fit(estimator, first) is estimator
    assert not any(k.endswith("_") and not k.startswith("_") for k in vars(clone(estimator)))
    _assert_unchanged(first, untouched)  # fit left its inputs alone
    seen = case.output(estimator, second)

    # deterministic, and a refit forgets the previous fit
    assert _same(case.output(case.fit(twin, first), second), seen)
    refit = case.output(case.fit(estimator, second), first)
    fresh = case.output(case.fit(clone(twin), second), first)
    assert _same(refit, fresh)

    # a pickle round trip predicts the same
    restored = pickle.loads(pickle.dumps(estimator))
    assert _same(case.output(restored, first), refit)
