"""The at-risk list's edges: filters checked against what can match them, and why a list is
empty.

A theme id or an attribute name that no customer can ever match is refused, naming what is
expected, instead of answering an empty list that reads like "nobody is at risk"; an empty
list says why it is empty and what to do (``why_empty``).

A theme id is known when a stored comment raised it or the served text model can give it
(``other`` always is): a known theme nobody at risk raised is an empty list, not an error. An
attribute name is known when some customer has it. Attribute values are not checked: any
value may be the next customer's.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from cxml.errors import ConfigError
from cxml.store import Store
from cxml.store.analysis import stored_theme_ids
from cxml.store.history import attribute_names
from cxml.store.metrics import churn_counts
from cxml.store.scores import has_scores
from cxml.text.themes import OTHER

#: Why an at-risk list is empty, in the order a new installation meets them.
EmptyReason = Literal["no_customers", "no_churn_model", "no_scores", "no_active_scores", "no_match"]
#: What each reason tells the reader to do (the commands are `cxml`'s own).
EMPTY_MESSAGES: dict[EmptyReason, str] = {
    "no_customers": "no customers in the store yet: ingest them first (`cxml ingest customers "
    "FILE` and `cxml ingest feedback FILE`, or POST /v1/customers and POST /v1/feedback), then "
    "score them",
    "no_churn_model": "no scores yet, and no churn model to score with: run `cxml train churn`, "
    "then `cxml score`",
    "no_scores": "no scores yet: run `cxml score` (or POST /v1/score with the customers' ids)",
    "no_active_scores": "no active customer has a score: every customer scored has left since; "
    "run `cxml score` to score the active ones",
    "no_match": "no active customer with a score matches these filters",
}


@dataclass(frozen=True)
class Empty:
    """Why an at-risk list is empty: a stable ``reason`` (for a client to translate) and the
    ``message`` that says what to do."""

    reason: EmptyReason
    message: str


def why_empty(store: Store, *, filtered: bool, has_churn_model: bool) -> Empty:
    """Why an at-risk list came back empty: no customers in the store; none scored yet (and
    ``has_churn_model`` False: no churn model to score with either); else, when the list was
    ``filtered``, nobody matches the filters; else every customer scored has left since. Call
    it only for an empty list (first page): it reads the store to tell these apart."""
    customers, _ = churn_counts(store)
    reason: EmptyReason
    if not customers:
        reason = "no_customers"
    elif not has_scores(store):
        reason = "no_scores" if has_churn_model else "no_churn_model"
    else:
        reason = "no_match" if filtered else "no_active_scores"
    return Empty(reason, EMPTY_MESSAGES[reason])


#: Known values an error lists; beyond, how many more there are.
SHOWN = 20


def _listed(values: Sequence[str]) -> str:
    more = len(values) - SHOWN
    return ", ".join(values[:SHOWN]) + (f" and {more:,} more" if more > 0 else "")


def model_theme_ids(pipeline: Any) -> tuple[str, ...]:
    """The theme ids a fitted text pipeline can give (none without a pipeline)."""
    if pipeline is None:
        return ()
    table = pipeline.theme_table()
    return tuple(str(t) for t in table["id"]) if "id" in table.columns else ()


def model_theme_labels(pipeline: Any, language: str) -> dict[str, str]:
    """Theme id to label in ``language`` from a fitted text pipeline's taxonomy, for reasons in
    that language (none without a pipeline, and none in English: the labels stored with the
    reasons are the taxonomy's ``label``)."""
    if pipeline is None or language == "en":
        return {}
    return dict(pipeline.theme_labels(language))


def unknown_themes(store: Store, themes: Iterable[str], *, served: Iterable[str] = ()) -> list[str]:
    """The ids among ``themes`` that no stored comment raised and that neither the served
    text model (``served``: its theme ids) nor ``other`` names, in the order given."""
    known = {OTHER, *served}
    asked = [t for t in dict.fromkeys(themes) if t not in known]
    if not asked:
        return []
    stored = set(stored_theme_ids(store, among=asked))
    return [t for t in asked if t not in stored]


def check_themes(store: Store, themes: Sequence[str], *, served: Iterable[str] = ()) -> None:
    """Refuse a theme id nothing can match (see ``unknown_themes``).

    Raises:
        ConfigError: field ``theme``, naming the first unknown id and the known ones.
    """
    served = tuple(served)
    unknown = unknown_themes(store, themes, served=served)
    if not unknown:
        return
    known = sorted({OTHER, *served, *stored_theme_ids(store)})
    raise ConfigError(
        f"theme={unknown[0]!r} is not a theme id this store knows: expected one of "
        f"{_listed(known)} (GET /v1/themes lists them with their labels)",
        field="theme",
        value=unknown[0],
    )


def check_attribute_names(store: Store, attributes: Mapping[str, str]) -> None:
    """Refuse a filter on an attribute no customer has (``attributes``: name to value, as
    ``NAME=VALUE`` filters give them). It reads every customer's attribute names: call it when
    a filtered list came back empty, the only time such a name can be behind it.

    Raises:
        ConfigError: field ``attribute``, naming the first unknown name and the store's.
    """
    if not attributes:
        return
    known = attribute_names(store)
    unknown = [name for name in attributes if name not in known]
    if not unknown:
        return
    name = unknown[0]
    given = f"{name}={attributes[name]}"
    have = f"have {_listed(known)}" if known else "have no attributes"
    raise ConfigError(
        f"attribute={given!r}: no customer has an attribute named {name!r}; the store's "
        f"customers {have}",
        field="attribute",
        value=given,
    )
