"""Language identification: script rules for Japanese, py3langid (shipped in its package) otherwise."""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from cxml.estimator import Estimator

_KANA = re.compile("[\u3040-\u30ff\u31f0-\u31ff\uff66-\uff9f]")
_HAN = re.compile("[\u4e00-\u9fff]")
_LETTERS = re.compile(r"[^\W\d_]", re.UNICODE)


@functools.lru_cache(maxsize=1)
def _load_identifier() -> Any:
    """py3langid's model, read once per process (≈ 1 s); it ships inside the package
    (MODEL_FILE is relative to MODEL_DIR)."""
    from py3langid.langid import MODEL_DIR, MODEL_FILE, LanguageIdentifier

    return LanguageIdentifier.from_modelpath(Path(MODEL_DIR) / MODEL_FILE, norm_probs=True)


class LanguageDetector(Estimator):
    """Return an ISO 639-1 code and a confidence in [0, 1] per text.

    Any kana means Japanese (no other language writes it). Other texts go to
    py3langid's naive Bayes model; ``languages`` restricts its choice when given.
    Texts without letters (empty, digits, emoji) get ``None``.
    """

    _caches = ("_langid",)

    def __init__(self, languages: Sequence[str] | None = None) -> None:
        self.languages = languages

    def fit(self, texts: Any = None, y: Any = None) -> LanguageDetector:
        """Nothing to learn from texts (stateless: usable with or without ``fit``)."""
        return self

    def __sklearn_is_fitted__(self) -> bool:
        return True

    def _identifier(self) -> Any:
        if getattr(self, "_langid", None) is None:
            if self.languages:  # set_languages changes the model: a copy of its own
                identifier = _load_identifier.__wrapped__()
                identifier.set_languages(list(self.languages))
            else:
                identifier = _load_identifier()
            self._langid = identifier
        return self._langid

    def detect(self, texts: Sequence[str | None]) -> list[tuple[str | None, float]]:
        """(language, confidence) per text."""
        identifier = self._identifier()
        out: list[tuple[str | None, float]] = []
        for text in texts:
            if not text or not _LETTERS.search(text):
                out.append((None, 0.0))
            elif _KANA.search(text):
                out.append(("ja", 0.99))
            else:
                code, probability = identifier.classify(text)
                if (
                    code == "zh"
                    and _HAN.search(text)
                    and (not self.languages or "ja" in self.languages)
                ):
                    # Kanji-only snippets ("料金", "請求書") are as likely Japanese as Chinese.
                    code = "ja" if self.languages and "zh" not in self.languages else code
                out.append((str(code), round(float(probability), 4)))
        return out
