"""The at-risk list's filters checked against what can match them: an unknown theme id or
attribute name is refused naming the known ones; a known one that matches nobody is not an
error (SQLite and PostgreSQL)."""

from __future__ import annotations

import re
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from sqlalchemy import insert

from cxml.at_risk import (
    EMPTY_MESSAGES,
    check_attribute_names,
    check_themes,
    model_theme_labels,
    unknown_themes,
    why_empty,
)
from cxml.errors import ConfigError
from cxml.settings import Settings
from cxml.store import Store
from cxml.store.tables import feedback_themes
from tests.conftest import NOW

#: (customer, plan, churn date, probability, band): an active customer at high risk, one at
#: low risk, and one who left (scored before leaving).
CUSTOMERS = [
    ("C1", "premium", None, 0.8, "high"),
    ("C2", "basic", None, 0.1, "low"),
    ("C3", "basic", "2025-03-01", 0.9, "high"),
]
COMMENTS = [
    ("F1", "C1", "I'm cancelling my account and switching to another bank."),
    ("F2", "C2", "The app keeps crashing."),
    ("F3", "C3", "Too expensive."),
]


def scored_store(store: Store, settings: Settings, folder: Path, *, scored: bool = True) -> None:
    """Three customers with a ``plan`` (one churned), a comment each analysed by the shipped
    defaults (theme ``other``; C1's also raised ``billing``), and, when ``scored``, a score
    each (C1 high, C2 low, C3 high)."""
    from cxml.ingest import ingest_file
    from cxml.text.training import analyze_feedback, default_pipeline

    folder.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(
        {
            "customer_id": [c for c, *_ in CUSTOMERS],
            "signup_date": "2025-01-01",
            "churn_date": [left for _, _, left, _, _ in CUSTOMERS],
            "monthly_value": 50.0,
            "plan": [plan for _, plan, *_ in CUSTOMERS],
        }
    ).to_csv(folder / "customers.csv", index=False)
    pd.DataFrame(
        [
            {"feedback_id": f, "customer_id": c, "created_at": "2025-02-05", "channel": "email"}
            | {"text": text, "language": "en", "nps": 3}
            for f, c, text in COMMENTS
        ]
    ).to_csv(folder / "feedback.csv", index=False)
    ingest_file(store, "customers", folder / "customers.csv", settings=settings, now=NOW)
    ingest_file(store, "feedback", folder / "feedback.csv", settings=settings, now=NOW)
    analyze_feedback(store, default_pipeline(), "defaults", [f for f, *_ in COMMENTS], now=NOW)
    with store.begin() as connection:  # a theme a taxonomy would give (the defaults have none)
        connection.execute(
            insert(feedback_themes).values(
                feedback_id="F1", theme_id="billing", theme_label="billing", confidence=1.0
            )
        )
    if scored:
        score_them(store)


def score_them(store: Store) -> None:
    """A score each, as `cxml score` would store them (C1 high, C2 low, C3 high)."""
    from cxml.store.scores import write_scores

    write_scores(
        store,
        pd.DataFrame(
            {
                "customer_id": [c for c, *_ in CUSTOMERS],
                "as_of": date(2025, 2, 28),
                "model_version": "1",
                "probability": [p for *_, p, _ in CUSTOMERS],
                "band": [band for *_, band in CUSTOMERS],
                "revenue_at_risk": [round(p * 150.0, 2) for *_, p, _ in CUSTOMERS],
                "reasons": [[{"feature": "x", "value": 1, "contribution": 0.1, "text": "x"}]]
                * len(CUSTOMERS),
                "attribution": "exact TreeSHAP",
                "scored_at": datetime(2025, 2, 28, 12),
                "features_as_of": datetime(2025, 2, 28),
            }
        ),
    )


@pytest.mark.parametrize(
    ("themes", "served", "unknown"),
    [
        (["other"], (), []),  # always a theme
        (["billing"], (), []),  # raised by a stored comment
        (["delivery"], ("billing", "delivery"), []),  # only the served text model knows it
        (["nope"], (), ["nope"]),
        (["other", "nope", "zzz", "nope"], (), ["nope", "zzz"]),  # in the order given, once
        ([], (), []),
    ],
)
def test_unknown_themes_are_those_neither_the_store_nor_the_served_model_knows(
    store: Store,
    settings: Settings,
    tmp_path: Path,
    themes: list[str],
    served: tuple[str, ...],
    unknown: list[str],
) -> None:
    scored_store(store, settings, tmp_path, scored=False)
    assert unknown_themes(store, themes, served=served) == unknown


@pytest.mark.parametrize(
    ("themes", "served", "says"),
    [
        (
            ["nope"],
            (),
            "theme='nope' is not a theme id this store knows: expected one of billing, other "
            "(GET /v1/themes lists them with their labels)",
        ),
        (
            ["other", "nope"],
            ("delivery",),
            "theme='nope' is not a theme id this store knows: expected one of billing, "
            "delivery, other "
            "(GET /v1/themes lists them with their labels)",
        ),
        (
            ["nope"],
            tuple(f"t{n:02}" for n in range(25)),
            "expected one of billing, other, t00, t01, t02, t03, t04, t05, t06, t07, t08, t09, "
            "t10, t11, t12, t13, t14, t15, t16, t17 and 7 more (GET /v1/themes",
        ),
    ],
)
def test_an_unknown_theme_is_refused_naming_it_and_the_known_ones(
    store: Store,
    settings: Settings,
    tmp_path: Path,
    themes: list[str],
    served: tuple[str, ...],
    says: str,
) -> None:
    scored_store(store, settings, tmp_path, scored=False)
    with pytest.raises(ConfigError) as raised:
        check_themes(store, themes, served=served)
    assert (raised.value.field, raised.value.value) == ("theme", "nope")
    assert says in str(raised.value)


@pytest.mark.parametrize(
    ("attributes", "says"),
    [
        ({"tier": "gold"}, "attribute='tier=gold': no customer has an attribute named 'tier'"),
        ({"plan": "basic", "Plan": "x"}, "attribute='Plan=x': no customer has an attribute"),
    ],
)
def test_a_filter_on_an_attribute_nobody_has_is_refused_naming_the_stores(
    store: Store, settings: Settings, tmp_path: Path, attributes: dict[str, str], says: str
) -> None:
    scored_store(store, settings, tmp_path, scored=False)
    with pytest.raises(ConfigError) as raised:
        check_attribute_names(store, attributes)
    assert raised.value.field == "attribute"
    assert str(raised.value).startswith(says)
    assert str(raised.value).endswith("; the store's customers have plan")


@pytest.mark.parametrize("attributes", [{}, {"plan": "basic"}, {"plan": "no such plan"}])
def test_a_filter_on_an_attribute_some_customer_has_passes_whatever_its_value(
    store: Store, settings: Settings, tmp_path: Path, attributes: dict[str, str]
) -> None:
    scored_store(store, settings, tmp_path, scored=False)
    check_attribute_names(store, attributes)


def test_an_attribute_filter_on_a_store_without_attributes_says_so(
    store: Store, settings: Settings
) -> None:
    with pytest.raises(ConfigError, match=r"the store.s customers have no attributes$"):
        check_attribute_names(store, {"plan": "basic"})


@pytest.mark.parametrize(
    ("filled", "filtered", "has_churn_model", "reason"),
    [
        (None, False, True, "no_customers"),
        (None, True, False, "no_customers"),
        ("customers", False, False, "no_churn_model"),
        ("customers", True, True, "no_scores"),
        ("scores", True, True, "no_match"),
        ("scores", False, False, "no_active_scores"),  # (called for an empty list only)
    ],
)
def test_an_empty_list_says_why_as_the_store_fills(
    store: Store,
    settings: Settings,
    tmp_path: Path,
    filled: str | None,
    filtered: bool,
    has_churn_model: bool,
    reason: str,
) -> None:
    if filled is not None:
        scored_store(store, settings, tmp_path, scored=filled == "scores")
    empty = why_empty(store, filtered=filtered, has_churn_model=has_churn_model)
    assert (empty.reason, empty.message) == (reason, EMPTY_MESSAGES[reason])  # type: ignore[index]


@pytest.mark.parametrize("reason", list(EMPTY_MESSAGES))
def test_every_empty_message_names_commands_that_exist(reason: str) -> None:
    from cxml.cli import cli

    commands = re.findall(r"`cxml ([a-z -]+?)(?: [A-Z]+)?`", EMPTY_MESSAGES[reason])  # type: ignore[index]
    assert commands or reason == "no_match"
    for words in commands:
        group: Any = cli
        for word in words.split():
            assert word in group.commands, f"{reason}: `cxml {words}` is not a command"
            group = group.commands[word]


@pytest.mark.parametrize(
    ("with_pipeline", "language", "billing"),
    [(True, "ja", "請求と料金"), (True, "en", None), (False, "ja", None)],
)
def test_theme_labels_for_reasons_come_from_the_served_taxonomy(
    demo_text_pipeline: Any, with_pipeline: bool, language: str, billing: str | None
) -> None:
    labels = model_theme_labels(demo_text_pipeline if with_pipeline else None, language)
    assert labels.get("billing") == billing
