"""Misspelt question words, read as the articles' words (symspellpy).

"who kiled hamedany" -> "who killed hamedani". A word is left alone if it is English (symspellpy's
82,765-word frequency list) or in the articles; otherwise it becomes the article word nearest to it
in edit distance (1, or 2 for words of eight letters or more) that starts with the same letter.
A word near none stays as typed: "Soleimani" is not turned into a name the articles do have,
which would make a question they cannot answer look answerable.
"""

from __future__ import annotations

import re
import threading
from collections import Counter
from collections.abc import Iterable, Sequence
from functools import lru_cache

from .text import stopwords

_WORD = re.compile(r"[^\W\d_]{4,}")


@lru_cache(maxsize=1)
def english() -> frozenset[str]:
    """The words of symspellpy's English frequency list."""
    from importlib.resources import files

    path = files("symspellpy") / "frequency_dictionary_en_82_765.txt"
    with path.open(encoding="utf-8") as lines:
        return frozenset(line.split(" ", 1)[0] for line in lines if line.strip())


class Speller:
    """Corrects questions toward the vocabulary of the indexed articles; its index is built on first use."""

    def __init__(self, passages: Iterable[Sequence[str]]) -> None:
        """``passages``: the articles' words, split by `text.tokens`, one list per passage."""
        self.counts = Counter(t for words in passages for t in words if _WORD.fullmatch(t))
        self._index = None
        self._lock = threading.Lock()

    @property
    def index(self):
        with self._lock:
            if self._index is None:
                from symspellpy import SymSpell

                index = SymSpell(max_dictionary_edit_distance=2)
                for word, count in self.counts.items():
                    index.create_dictionary_entry(word, count)
                self._index = index
            return self._index

    def word(self, typed: str) -> str:
        """The article word ``typed`` was meant to be, or ``typed`` itself."""
        low = typed.lower()
        if low in self.counts or low in english() or low in stopwords():
            return typed
        from symspellpy import Verbosity

        reach = 2 if len(low) >= 8 else 1
        found = [s for s in self.index.lookup(low, Verbosity.CLOSEST, max_edit_distance=reach)
                 if s.term[0] == low[0]]
        if not found:
            return typed
        best = max(found, key=lambda s: (-s.distance, s.count)).term
        return best.capitalize() if typed[:1].isupper() else best

    def correct(self, question: str) -> str:
        """The question with each misspelt word replaced (`word`); punctuation and case kept."""
        return _WORD.sub(lambda m: self.word(m.group(0)), question)
