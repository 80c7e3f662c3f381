"""The error types of cxml: each message says what, where, the value, and what was expected."""

from __future__ import annotations

from typing import Any


class CxmlError(Exception):
    """Base class of every error cxml raises on purpose; ``exit_code`` is used by the CLI."""

    exit_code = 1


class ConfigError(CxmlError):
    """A setting, option or mapping is wrong (exit code 2)."""

    exit_code = 2


class InputFileError(CxmlError):
    """A file cannot be read at all: nothing from it is written (exit code 3).

    ``file`` names the file; ``detail`` says what is wrong and what was expected.
    """

    exit_code = 3

    def __init__(self, file: str, detail: str, *, row: int | None = None) -> None:
        self.file = file
        self.detail = detail
        self.row = row
        where = f"{file} row {row}" if row is not None else file
        super().__init__(f"{where}: {detail}")


class NotFoundError(CxmlError):
    """Something asked for by id does not exist (exit code 4)."""

    exit_code = 4

    def __init__(self, what: str, key: Any) -> None:
        self.what = what
        self.key = key
        super().__init__(f"{what} {key!r} is not in the store")


class StoreError(CxmlError):
    """The store cannot be reached or is not at the expected schema (exit code 5)."""

    exit_code = 5
