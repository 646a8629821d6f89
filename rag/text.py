"""Word-level helpers shared by lexical search and citation checks.

>>> content_words("Who killed General Hamedani in 2015?")
['kill', 'general', 'hamedani', '2015']
>>> content_words("the defence programme") == content_words("the defense program")
True
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache

_TOKEN = re.compile(r"\d+(?:[.,]\d+)*|[^\W\d_]+(?:['’][^\W\d_]+)*", re.UNICODE)
_NUMBER = re.compile(r"\$?\d+(?:[.,]\d+)*")

# The auxiliaries a yes-no question opens with ("Did ...?") and a verb phrase leans on ("has been"),
# shared by verification and the follow-up test.
AUXILIARIES = frozenset({"is", "are", "was", "were", "do", "does", "did", "has", "have", "had", "can", "could", "will",
                         "would", "should", "may", "might", "must", "shall"})

# Question words and fillers that say nothing about the content.
_EXTRA_STOP = {
    "who", "whom", "whose", "what", "which", "when", "where", "why", "how", "did", "does", "do", "was", "were",
    "is", "are", "according", "say", "said", "says", "tell", "article", "articles", "many", "much", "also",
    "s", "t", "one", "would", "could", "us", "per", "cent", "mr",
}
_WORD_NUMBERS = {
    "one": "1", "two": "2", "three": "3", "four": "4", "five": "5", "six": "6", "seven": "7", "eight": "8",
    "nine": "9", "ten": "10", "eleven": "11", "twelve": "12", "hundred": "100", "thousand": "1000",
}


@lru_cache(maxsize=1)
def stopwords() -> frozenset[str]:
    from bm25s.stopwords import STOPWORDS_EN

    return frozenset(STOPWORDS_EN) | _EXTRA_STOP


@lru_cache(maxsize=1)
def _american() -> dict[str, str]:
    from breame.data.spelling_constants import BRITISH_ENGLISH_SPELLINGS

    return BRITISH_ENGLISH_SPELLINGS


@lru_cache(maxsize=1)
def _stemmer():
    import Stemmer

    return Stemmer.Stemmer("english")


def tokens(text: str) -> list[str]:
    """Lower-cased words and numbers, apostrophes and typographic quotes folded."""
    return [t.replace("’", "'").lower() for t in _TOKEN.findall(text)]


def content_words(text: str) -> list[str]:
    """Stemmed tokens minus stopwords, British spellings made American (breame): what lexical
    search and support checks compare, so "defence" meets "Defense" and "programme" "program"."""
    return stems(tokens(text))


def stems(words: Sequence[str]) -> list[str]:
    """`content_words` of text already split by `tokens`."""
    stop, american = stopwords(), _american()
    bare = [t.split("'")[0] for t in words]
    return _stemmer().stemWords([american.get(w, w) for w in bare if w and w not in stop])


@lru_cache(maxsize=65536)
def lemma(word: str) -> str:
    import simplemma  # a dictionary lemmatiser: "became" -> "become", "gave" -> "give", "struck" -> "strike"

    return simplemma.lemmatize(word, lang="en").lower()


def lemmas(text: str) -> list[str]:
    """`content_words` after lemmatising, so irregular forms meet their verb: what claim checks compare.

    >>> lemmas("the missiles came down") == lemmas("a missile comes down")
    True
    """
    stop, american = stopwords(), _american()
    bare = [t.split("'")[0] for t in tokens(text)]
    return _stemmer().stemWords([lemma(american.get(w, w)) for w in bare if w and w not in stop])


def numbers(text: str) -> set[str]:
    """Numbers written in ``text`` (digits, and small number words), normalised.

    "26 missiles, four ships, $580 million" -> {"26", "4", "580"}
    """
    found = {n.lstrip("$").replace(",", "") for n in _NUMBER.findall(text)}
    found |= {_WORD_NUMBERS[t] for t in tokens(text) if t in _WORD_NUMBERS}
    return found
