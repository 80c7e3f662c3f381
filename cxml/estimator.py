"""What every cxml estimator shares: scikit-learn's contract, a fresh start at each ``fit``,
and one not-fitted error that names the call to make."""

from __future__ import annotations

from typing import Any

from sklearn.base import BaseEstimator

from cxml.errors import NotFittedError


class Estimator(BaseEstimator):
    """Base of cxml's estimators: ``__init__`` only stores parameters (scikit-learn's
    ``get_params``/``clone`` rely on it), learned state ends in ``_``."""

    #: Private caches rebuilt on demand: dropped at each fit and when pickled.
    _caches: tuple[str, ...] = ()
    #: The call ``NotFittedError`` tells the user to make.
    _fit_call: str = "fit(...)"

    def _forget(self) -> None:
        """Drop everything a previous ``fit`` learned: a refit starts from scratch."""
        for name in [k for k in vars(self) if k.endswith("_") and not k.startswith("_")]:
            delattr(self, name)
        for name in self._caches:
            self.__dict__.pop(name, None)

    def _check_fitted(self, attribute: str) -> None:
        """Raise NotFittedError unless ``attribute`` was learned."""
        if not hasattr(self, attribute):
            raise NotFittedError(self, self._fit_call)

    def __getstate__(self) -> dict[str, Any]:
        state = dict(super().__getstate__())
        for name in self._caches:
            state.pop(name, None)
        return state
