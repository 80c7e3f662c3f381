"""The at-risk list's filters checked against what can match them: a theme id or an attribute
name that no customer can ever match is refused, naming what is expected, instead of
answering an empty list that reads like "nobody is at risk".

A theme id is known when a stored comment raised it or the served text model can give it
(``other`` always is): a known theme nobody at risk raised is an empty list, not an error. An
attribute name is known when some customer has it. Attribute values are not checked: any
value may be the next customer's.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from cxml.errors import ConfigError
from cxml.store import Store
from cxml.store.analysis import stored_theme_ids
from cxml.store.history import attribute_names
from cxml.text.themes import OTHER

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
