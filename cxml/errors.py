"""The error types of cxml: each message says what happened, where, the value, and what to do.

Every error a user or a CRM developer can meet carries a stable code (``CX101`` …) listed in
``CODES`` below and in ``docs/errors.md``, so it can be searched. Each class also inherits
the built-in exception callers already catch (``ValueError``, ``LookupError``,
``ConnectionError``). The CLI maps them to exit codes (``exit_code``); ``serve/errors.py``
maps them to HTTP statuses, in one place each.
"""

from __future__ import annotations

from typing import Any, ClassVar

#: Every code, with what it means; ``docs/errors.md`` says what to do about each (a test
#: keeps the two in step).
CODES: dict[str, str] = {
    "CX100": "an error of cxml without a more specific code",
    "CX101": "an option, setting, argument or request value cxml cannot use",
    "CX102": "a file cannot be read, or lacks what is needed: nothing from it was written",
    "CX103": "a theme taxonomy file is not valid",
    "CX104": "something asked for by id is not stored",
    "CX105": "a column mapping file is not valid",
    "CX106": "a request or batch is larger than allowed",
    "CX107": "no such route, or not with this method",
    "CX108": "the customer is held out as a control by an open worklist pull",
    "CX201": "a model was used before it was fitted",
    "CX202": "no model is registered (or champion) for what was asked",
    "CX203": "the model cannot score this input: trained in another mode, or on other columns",
    "CX301": "no valid API key: the X-API-Key header is missing, unknown or revoked",
    "CX302": "the API key does not hold the scope this route needs",
    "CX303": "too many failed API-key checks from this client: wait, then retry",
    "CX501": "the store (database) cannot be reached or is not at a usable schema",
    "CX502": "the MLflow tracking server or model registry cannot be reached",
    "CX503": "a request took longer than the server allows: send a smaller batch",
}


class CxmlError(Exception):
    """Base class of every error cxml raises on purpose.

    ``field`` and ``value`` name what was wrong when there is one such thing; ``code`` is
    the class's code unless the raise gives a more specific one.
    """

    code: ClassVar[str] = "CX100"
    exit_code: ClassVar[int] = 1

    def __init__(
        self,
        message: str,
        *,
        field: str | None = None,
        value: Any = None,
        code: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.value = value
        if code is not None:
            if code not in CODES:
                raise KeyError(f"error code {code} is not listed in cxml.errors.CODES")
            self.code = code  # type: ignore[misc]  # a raise may narrow the class's code


class ConfigError(CxmlError, ValueError):
    """An option, setting, argument or request value cannot be used (exit code 2)."""

    code: ClassVar[str] = "CX101"
    exit_code: ClassVar[int] = 2


class InputFileError(CxmlError, ValueError):
    """A file cannot be read at all: nothing from it is written (exit code 3).

    ``file`` names the file; ``detail`` says what is wrong and what was expected.
    """

    code: ClassVar[str] = "CX102"
    exit_code: ClassVar[int] = 3

    def __init__(self, file: str, detail: str, *, row: int | None = None) -> None:
        self.file = file
        self.detail = detail
        self.row = row
        where = f"{file} row {row}" if row is not None else file
        super().__init__(f"{where}: {detail}", field="file", value=file)


class NotFoundError(CxmlError, LookupError):
    """Something asked for by id does not exist (exit code 4)."""

    code: ClassVar[str] = "CX104"
    exit_code: ClassVar[int] = 4

    def __init__(self, what: str, key: Any, *, hint: str | None = None) -> None:
        self.what = what
        self.key = key
        message = f"{what} {key!r} is not in the store"
        super().__init__(message + (f": {hint}" if hint else ""), value=key)


class NotFittedError(CxmlError, ValueError, AttributeError):
    """A model was used before ``fit`` (the same bases as scikit-learn's NotFittedError).

    The message names the call to make, e.g. ``ChurnModel is not fitted yet: call fit(X, y)``.
    """

    code: ClassVar[str] = "CX201"
    exit_code: ClassVar[int] = 2

    def __init__(self, estimator: Any, call: str = "fit(...)") -> None:
        name = estimator if isinstance(estimator, str) else type(estimator).__name__
        super().__init__(f"{name} is not fitted yet: call {call} first")


class ModelNotFoundError(CxmlError, LookupError):
    """No model is registered (or champion) for what was asked (exit code 4)."""

    code: ClassVar[str] = "CX202"
    exit_code: ClassVar[int] = 4


class ModelMismatchError(ConfigError):
    """The model cannot score this input: trained in another mode or on other columns."""

    code: ClassVar[str] = "CX203"


class StoreError(CxmlError, ConnectionError):
    """The store cannot be reached or is not at a usable schema (exit code 5)."""

    code: ClassVar[str] = "CX501"
    exit_code: ClassVar[int] = 5


class RegistryError(CxmlError, ConnectionError):
    """The MLflow tracking server or model registry cannot be reached (exit code 7)."""

    code: ClassVar[str] = "CX502"
    exit_code: ClassVar[int] = 7


class TooLargeError(ConfigError):
    """A request or batch is larger than a setting allows (HTTP 413)."""

    code: ClassVar[str] = "CX106"


class HeldOutError(ConfigError):
    """The customer is a control in an open worklist pull: contacting them would spoil the
    randomised comparison (HTTP 409; override on purpose, and it is recorded)."""

    code: ClassVar[str] = "CX108"


class AccessError(CxmlError, PermissionError):
    """An API key is missing, unknown, revoked or lacks the scope (HTTP 401, 403 or 429);
    ``headers`` go with the answer (``Retry-After``)."""

    code: ClassVar[str] = "CX301"
    exit_code: ClassVar[int] = 2

    def __init__(self, message: str, *, headers: dict[str, str] | None = None) -> None:
        super().__init__(message, field="X-API-Key")
        self.headers = headers


class ScopeError(AccessError):
    """A valid key without the scope the route needs (HTTP 403)."""

    code: ClassVar[str] = "CX302"


class TooManyAttemptsError(AccessError):
    """Too many failed key checks from one client (HTTP 429)."""

    code: ClassVar[str] = "CX303"
