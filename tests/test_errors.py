"""Error codes: one list in cxml.errors, the same in docs/errors.md, mapped to exits and statuses."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from cxml import errors
from serve.errors import status_of

DOC = Path(__file__).resolve().parents[1] / "docs" / "errors.md"
CLASSES = [
    errors.CxmlError,
    errors.ConfigError,
    errors.InputFileError,
    errors.NotFoundError,
    errors.NotFittedError,
    errors.ModelNotFoundError,
    errors.ModelMismatchError,
    errors.StoreError,
    errors.RegistryError,
    errors.TooLargeError,
    errors.AccessError,
    errors.ScopeError,
    errors.TooManyAttemptsError,
]


def documented() -> dict[str, tuple[int, int]]:
    rows = re.findall(r"^\| (CX\d{3}) \|[^|]*\| (\d+) \| (\d+) \|", DOC.read_text(), re.M)
    return {code: (int(exit_code), int(status)) for code, exit_code, status in rows}


def example(kind: type[errors.CxmlError]) -> errors.CxmlError:
    if kind is errors.InputFileError:
        return kind("f.csv", "broken")
    if kind is errors.NotFoundError:
        return kind("customer", "x")
    if kind is errors.NotFittedError:
        return kind("ChurnModel")
    return kind("something")


def test_every_code_is_documented_and_every_documented_code_exists() -> None:
    assert set(documented()) == set(errors.CODES)


@pytest.mark.parametrize("kind", CLASSES, ids=lambda k: k.__name__)
def test_each_class_has_a_listed_code_and_its_documented_exit_and_status(
    kind: type[errors.CxmlError],
) -> None:
    error = example(kind)
    assert error.code in errors.CODES
    exit_code, status = documented()[error.code]
    assert error.exit_code == exit_code
    assert status_of(error) == status


@pytest.mark.parametrize(
    ("kind", "builtin"),
    [
        (errors.ConfigError, ValueError),
        (errors.InputFileError, ValueError),
        (errors.NotFoundError, LookupError),
        (errors.NotFittedError, AttributeError),
        (errors.ModelNotFoundError, LookupError),
        (errors.StoreError, ConnectionError),
        (errors.RegistryError, ConnectionError),
    ],
)
def test_errors_are_the_builtins_callers_already_catch(
    kind: type[errors.CxmlError], builtin: type[Exception]
) -> None:
    assert isinstance(example(kind), builtin)


def test_a_raise_may_only_narrow_to_a_listed_code() -> None:
    assert errors.ConfigError("bad taxonomy", code="CX103").code == "CX103"
    with pytest.raises(KeyError, match="CX999"):
        errors.ConfigError("x", code="CX999")
