"""Chinese word segmentation (jieba) for keyword negation: docs/field-reports.md#negation.

jieba's default dictionary ships inside its package (no network); loading it takes about a second, so it is
loaded once per process, lazily (at the first classification) and under a lock. Each dictionary version gets
its own tokenizer: a copy of the loaded word frequencies with that version's phrases added as user words, so a
phrase of one version never changes how another version segments.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable

import jieba

_LOCK = threading.Lock()
_BASE: jieba.Tokenizer | None = None


def _base() -> jieba.Tokenizer:
    """jieba's default dictionary, loaded once per process (thread-safe)."""
    global _BASE
    if _BASE is None:
        with _LOCK:
            if _BASE is None:
                jieba.setLogLevel(logging.WARNING)  # it logs its dictionary loading at DEBUG/INFO
                tk = jieba.Tokenizer()
                tk.initialize()
                _BASE = tk
    return _BASE


class Segmenter:
    """A tokenizer of the default dictionary plus ``words`` (a dictionary version's phrases)."""

    def __init__(self, words: Iterable[str]) -> None:
        base = _base()
        tk = jieba.Tokenizer(base.dictionary)
        tk.FREQ, tk.total, tk.initialized = dict(base.FREQ), base.total, True
        for word in sorted(set(words)):
            tk.add_word(word)
        self._tk = tk

    def words(self, text: str) -> list[tuple[str, int, int]]:
        """(word, start, end) of every word of ``text``, by the dictionary only (no HMM guessing: reproducible)."""
        return list(self._tk.tokenize(text, HMM=False))
