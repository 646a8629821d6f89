"""Turn a model's draft into a verified, cited answer — or a quotation, or an abstention.

The model's own brackets are ignored. Each draft sentence is attributed after the fact
(RAGFlow's insert_citations idea): it is kept only if a retrieved passage holds the words it
adds to the question and every number it states. If nothing survives, the best supporting
passage is quoted instead; if no passage carries the question's evidence, the answer is the
fixed abstention. Passages from different articles that give different figures for the same
thing are reported as a disagreement, each side cited.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Sequence

from .chunk import split_sentences
from .prompts import ABSTAIN
from .text import content_words, numbers, tokens
from .types import Citation, Hit

_MARKER = re.compile(r"\s*\[[^\]]{0,20}\]")
_UNIT_ALIASES = {
    "kilometres": "km", "kilometers": "km", "kilometre": "km", "kilometer": "km", "km": "km",
    "miles": "mile", "mile": "mile", "metres": "m", "meters": "m", "percent": "%", "%": "%",
}


@dataclass(frozen=True)
class Verdict:
    """The verified outcome; `pipeline` wraps it into an Answer."""

    text: str
    citations: tuple[Citation, ...]
    abstained: bool
    mode: str  # generated | quoted | conflict | abstained

    @property
    def conflict(self) -> bool:
        return self.mode == "conflict"


class Evidence:
    """How well each passage bears on a question: IDF-weighted word coverage and cosine."""

    def __init__(self, question: str, idf: dict[str, float], default_idf: float) -> None:
        self.question_words = list(dict.fromkeys(content_words(question)))
        self.idf = idf
        self.default_idf = default_idf

    def weight(self, word: str) -> float:
        return self.idf.get(word, self.default_idf)

    def coverage(self, passage_words: set[str]) -> float:
        """Share of the question's (IDF-weighted) content words found in the passage."""
        if not self.question_words:
            return 0.0
        total = sum(self.weight(w) for w in self.question_words)
        return sum(self.weight(w) for w in self.question_words if w in passage_words) / total

    def score(self, hit: Hit, title: str) -> float:
        words = set(content_words(hit.chunk.readable)) | set(content_words(title))
        return 0.5 * self.coverage(words) + 0.5 * max(hit.dense, 0.0)


def clean_draft(draft: str) -> str:
    """The model's text without its citation brackets, labels or trailing fragments.

    'Answer: IS killed him [3].' -> 'IS killed him.'
    """
    text = _MARKER.sub("", draft).strip()
    text = re.sub(r"^(answer|a)\s*:\s*", "", text, flags=re.IGNORECASE).strip().strip('"“”').strip()
    return re.sub(r"\s+([.,;:!?])", r"\1", text)


def is_abstention(text: str) -> bool:
    low = text.lower()
    return any(p in low for p in ("do not say", "does not say", "don't say", "not mentioned", "no information",
                                  "not stated", "cannot answer", "can't answer", "not provided", "doesn't say"))


def supports(sentence: str, question_words: set[str], passage: str, threshold: float) -> float:
    """How well ``passage`` backs ``sentence``: share of its new content words present (0 if a number is missing)."""
    new = [w for w in dict.fromkeys(content_words(sentence)) if w not in question_words]
    if not new:
        return 0.0
    if not numbers(sentence) <= numbers(passage):
        return 0.0
    present = set(content_words(passage))
    share = sum(w in present for w in new) / len(new)
    return share if share >= threshold else 0.0


def citation_for(key: str, hit: Hit) -> Citation:
    chunk = hit.chunk
    return Citation(key, chunk.doc_id, chunk.start, chunk.end, chunk.text)


def _best_sentence(hit: Hit, evidence: Evidence) -> str:
    """The sentence of a passage that carries most of the question's words."""
    text = hit.chunk.readable
    spans = split_sentences(text) or [(0, len(text))]
    sentences = [text[s:e] for s, e in spans]
    return max(sentences, key=lambda s: (evidence.coverage(set(content_words(s))), len(s)))


def _quantities(text: str) -> dict[str, set[str]]:
    """Numbers keyed by the unit after them: "10 kilometres (six miles)" -> {"km": {"10"}, "mile": {"6"}}."""
    found: dict[str, set[str]] = {}
    words = tokens(text)
    digits = numbers(" ".join(words))
    for i, word in enumerate(words[:-1]):
        unit = _UNIT_ALIASES.get(words[i + 1])
        value = numbers(word)
        if unit and value and value <= digits:
            found.setdefault(unit, set()).update(value)
    return found


def _disagreement(primary: Hit, others: Sequence[tuple[str, Hit, float]], floor: float) -> tuple[str, Hit] | None:
    """Another article's passage that gives a different figure in the same unit."""
    mine = _quantities(primary.chunk.readable)
    if not mine:
        return None
    for key, hit, score in others:
        if hit.chunk.doc_id == primary.chunk.doc_id or score < floor:
            continue
        theirs = _quantities(hit.chunk.readable)
        shared = set(mine) & set(theirs)
        if shared and any(mine[u].isdisjoint(theirs[u]) for u in shared):
            return key, hit
    return None


def verify(question: str, draft: str, hits: Sequence[Hit], titles: dict[str, str], idf: dict[str, float],
           default_idf: float, support: float = 0.6, answerable: float = 0.5) -> Verdict:
    """Check the draft against the retrieved passages and decide what the user sees."""
    keyed = [(str(i), hit) for i, hit in enumerate(hits, 1)]
    evidence = Evidence(question, idf, default_idf)
    scored = [(key, hit, evidence.score(hit, titles.get(hit.chunk.doc_id, ""))) for key, hit in keyed]
    relevant = [(key, hit, score) for key, hit, score in scored if score >= answerable]
    if not relevant:
        return Verdict(ABSTAIN, (), True, "abstained")
    qwords = set(evidence.question_words)

    text = clean_draft(draft)
    kept: list[tuple[str, str, Hit]] = []
    if text and not is_abstention(text):
        for s, e in split_sentences(text)[:2]:
            sentence = text[s:e]
            backing = [(supports(sentence, qwords, hit.chunk.readable + " " + titles.get(hit.chunk.doc_id, ""), support),
                        score, key, hit) for key, hit, score in relevant]
            best = max(backing, key=lambda b: (b[0], b[1]), default=None)
            if best and best[0] > 0:
                kept.append((sentence, best[2], best[3]))

    primary_key, primary, _ = max(relevant, key=lambda r: r[2])
    if kept:
        primary_key, primary = kept[0][1], kept[0][2]
    conflict = _disagreement(primary, scored, answerable)
    if conflict:
        other_key, other = conflict
        text = (f"The sources differ: {primary.chunk.doc_id} says “{_best_sentence(primary, evidence)}” [{primary_key}], "
                f"while {other.chunk.doc_id} says “{_best_sentence(other, evidence)}” [{other_key}].")
        return Verdict(text, (citation_for(primary_key, primary), citation_for(other_key, other)), False, "conflict")
    if kept:
        parts, cites = [], {}
        for sentence, key, hit in kept:
            body = sentence.rstrip(".!? ")
            parts.append(f"{body} [{key}].")
            cites.setdefault(key, citation_for(key, hit))
        return Verdict(" ".join(parts), tuple(cites.values()), False, "generated")
    quote = _best_sentence(primary, evidence)
    return Verdict(f"“{quote}” [{primary_key}]", (citation_for(primary_key, primary),), False, "quoted")


def idf_table(chunk_words: Sequence[set[str]]) -> tuple[dict[str, float], float]:
    """Inverse document frequency of each word over the chunks, and the value for unseen words."""
    df: dict[str, int] = {}
    for words in chunk_words:
        for word in words:
            df[word] = df.get(word, 0) + 1
    n = max(len(chunk_words), 1)
    idf = {w: math.log(1 + n / c) for w, c in df.items()}
    return idf, math.log(1 + n)
