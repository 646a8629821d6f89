"""Turn a model's draft into a verified, cited answer — or a quotation, or an abstention.

The model's own brackets are ignored. Each claim in the draft (a sentence, or a short
phrase) is attributed after the fact, RAGFlow's insert_citations idea: it is kept only if
a retrieved passage that bears on the question holds the words the claim adds to the
question and every number it states; the citation points at that passage, whatever the
model wrote. If no claim survives, a passage that carries the question's own words strongly
is quoted; otherwise the answer is the fixed abstention. Passages from different articles
that give different figures for the same thing are reported as a disagreement, each cited.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING

from .chunk import split_sentences
from .config import Config
from .extract import (
    answer_cue,
    asks_measure,
    has_kind,
    has_measure,
    is_identity,
    kind,
    measure_in,
    named_in,
    names_held,
    names_subject,
    sentences,
    states_act,
    title_words,
)
from .prompts import ABSTAIN
from .text import content_words, numbers, tokens
from .types import Citation, Hit

if TYPE_CHECKING:
    import numpy as np

_MARKER = re.compile(r"\s*\[[^\]]{0,20}\]")
_UNIT_ALIASES = {
    "kilometres": "km", "kilometers": "km", "kilometre": "km", "kilometer": "km", "km": "km",
    "miles": "mile", "mile": "mile", "metres": "m", "meters": "m", "percent": "%",
}
# Words a small model wraps answers in ("The passage that answers the question is: ...").
_META = set(content_words("passage passages question answer answers article articles mention mentions "
                          "state states stated specify specifies information text according"))
_ABSTAIN_PHRASES = ("do not say", "does not say", "don't say", "doesn't say", "not stated", "not mentioned",
                    "no information", "cannot answer", "can't answer", "not provided", "not specified",
                    "does not specify", "do not specify", "not given", "unknown")


@dataclass(frozen=True)
class Thresholds:
    """The evidence rules, calibrated with `rag eval`; defaults and meanings are Config's."""

    support: float = Config.support
    relevance: float = Config.relevance
    claim_coverage: float = Config.claim_coverage
    quote_coverage: float = Config.quote_coverage
    quote_dense: float = Config.quote_dense
    measure_coverage: float = Config.measure_coverage
    sentence_coverage: float = Config.sentence_coverage
    draft_agreement: bool = Config.draft_agreement
    likelihood_gain: float = Config.likelihood_gain
    residual_similarity: float = Config.residual_similarity

    @classmethod
    def of(cls, config: Config) -> Thresholds:
        return cls(**{f.name: getattr(config, f.name) for f in fields(cls)})


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


@dataclass(frozen=True)
class Scored:
    """A retrieved passage with its key and how much of the question it carries."""

    key: str
    hit: Hit
    coverage: float  # IDF-weighted share of the question's content words in the passage
    words: frozenset[str]

    @property
    def dense(self) -> float:
        return self.hit.dense


def idf_table(chunk_words: Sequence[set[str]]) -> tuple[dict[str, float], float]:
    """Inverse document frequency of each word over the chunks, and the value for unseen words."""
    df: dict[str, int] = {}
    for words in chunk_words:
        for word in words:
            df[word] = df.get(word, 0) + 1
    n = max(len(chunk_words), 1)
    return {w: math.log(1 + n / c) for w, c in df.items()}, math.log(1 + n)


def coverage(question_words: Sequence[str], passage_words: set[str] | frozenset[str], idf: dict[str, float],
             default_idf: float) -> float:
    """IDF-weighted share of the question's content words found in a passage (0..1)."""
    if not question_words:
        return 0.0
    total = sum(idf.get(w, default_idf) for w in question_words)
    return sum(idf.get(w, default_idf) for w in question_words if w in passage_words) / total


def clean_draft(draft: str) -> str:
    """The model's first line without its citation brackets, labels or quotes.

    'Answer: "IS killed him [3]."' -> 'IS killed him.'
    """
    lines = [line for line in draft.strip().splitlines() if line.strip()]
    text = _MARKER.sub("", lines[0] if lines else "").strip()
    text = re.sub(r"^(answer|a)\s*:\s*", "", text, flags=re.IGNORECASE).strip().strip('"“”').strip()
    return re.sub(r"\s+([.,;:!?])", r"\1", text)


def is_abstention(text: str) -> bool:
    low = text.lower()
    return any(p in low for p in _ABSTAIN_PHRASES)


def claims(text: str) -> list[str]:
    """The draft's claims: its first two sentences, or the whole text if it is a phrase."""
    spans = split_sentences(text)
    return [text[s:e] for s, e in spans[:2]] if spans else []


def support(claim: str, question_words: set[str], passage: Scored) -> float:
    """Share of the claim's new content words the passage holds; 0 if a number is missing."""
    new = [w for w in dict.fromkeys(content_words(claim)) if w not in question_words and w not in _META]
    if not new or not numbers(claim) <= numbers(passage.hit.chunk.readable):
        return 0.0
    return sum(w in passage.words for w in new) / len(new)


def _on_topic(claim: str, question: str, qwords: Sequence[str], passage: Scored, idf: dict[str, float],
              default_idf: float) -> float:
    """How much of the question the passage sentence stating the claim holds (0 if it lacks the act asked about).

    A phrase can be in a relevant passage and still not answer: "the IS offensive" is in "It was
    not clear whether Hamedani's killing was related to that IS offensive", "Iran" in a sentence
    about where missiles landed. The claim and that sentence together must carry the question and
    its verb; the subject must be in the sentence itself ("The British government said ..." may be
    only the model's word).
    """
    new = [w for w in content_words(claim) if w not in qwords]
    sentence = best_sentence(passage, new)
    if not (states_act(question, f"{claim} {sentence}") and names_subject(question, sentence)):
        return 0.0
    return coverage(qwords, set(content_words(sentence)) | set(content_words(claim)), idf, default_idf)


def quoted(passage: Scored, sentence: str, lead: str = "") -> Verdict:
    """A sentence of ``passage`` quoted and cited, after ``lead`` if any: 'Peter Cook — “Pentagon spokesman ...” [1]'."""
    quote = sentence.strip().strip("“”\"")
    return Verdict(f"{lead + ' — ' if lead else ''}“{quote}” [{passage.key}]", (citation_for(passage),), False, "quoted")


def citation_for(passage: Scored) -> Citation:
    chunk = passage.hit.chunk
    return Citation(passage.key, chunk.doc_id, chunk.start, chunk.end, chunk.text)


def best_sentence(passage: Scored, wanted: Sequence[str], question: str = "") -> str:
    """The sentence of a passage that holds most of ``wanted`` (stemmed words), answer cues breaking ties."""
    return max(sentences(passage.hit.chunk.readable), key=lambda s: (len(set(wanted) & set(content_words(s))) + answer_cue(question, s), len(s)))


def _quantities(text: str) -> dict[str, set[str]]:
    """Numbers keyed by the unit after them: "10 kilometres (six miles)" -> {"km": {"10"}, "mile": {"6"}}."""
    found: dict[str, set[str]] = {}
    words = tokens(text)
    for i, word in enumerate(words[:-1]):
        unit = _UNIT_ALIASES.get(words[i + 1])
        value = numbers(word)
        if unit and value:
            found.setdefault(unit, set()).update(value)
    return found


def _disagreement(primary: Scored, shown: Sequence[Scored], further: Sequence[Scored],
                  rules: Thresholds) -> tuple[Scored, Scored] | None:
    """Two passages from different articles, both about the question, giving different figures in one unit.

    One side is a passage shown to the model, the answer's own first; the other may come from
    ``further`` down the retrieved list.
    """

    def about(p: Scored) -> bool:
        return p.dense >= rules.quote_dense or p.coverage >= rules.quote_coverage

    ones = sorted((p for p in shown if about(p)), key=lambda p: p is not primary)
    for i, one in enumerate(ones):
        mine = _quantities(one.hit.chunk.readable)
        for other in ones[i + 1:] + [p for p in further if about(p)]:
            if other.hit.chunk.doc_id == one.hit.chunk.doc_id:
                continue
            theirs = _quantities(other.hit.chunk.readable)
            shared = set(mine) & set(theirs)
            if shared and all(mine[u].isdisjoint(theirs[u]) for u in shared):
                return one, other
    return None


Judge = Callable[[str, Sequence[str]], Sequence[float]]  # (question, sentences) -> likelihood gain of each
Embed = Callable[[Sequence[str]], "np.ndarray"]  # texts -> unit vectors, one row each


def verify(question: str, draft: str, hits: Sequence[Hit], idf: dict[str, float], default_idf: float,
           rules: Thresholds = Thresholds(), more: Sequence[Hit] = (), judge: Judge | None = None,
           embed: Embed | None = None) -> Verdict:
    """Check the draft against the retrieved passages and decide what the user sees.

    ``more`` are further retrieved passages, below the k shown to the model, searched only for
    a figure that disagrees with the answer's; one that does is cited with key k+1. ``judge``
    (the LLM's `gain`) is asked, only when nothing else verifies, which sentence makes the
    question likeliest; that sentence is quoted if it gains enough and, by ``embed``, speaks to
    what the question asks (`residual_similarity`). Before the judge, ``embed`` finds the
    sentence nearest the question; it is quoted if the draft's own words point at it too
    (`_agreed`).
    """
    qwords = list(dict.fromkeys(content_words(question)))

    def scored(key: str, hit: Hit) -> Scored:
        words = frozenset(content_words(hit.chunk.readable))
        return Scored(key, hit, coverage(qwords, words, idf, default_idf), words)

    passages = [scored(str(i), hit) for i, hit in enumerate(hits, 1)]
    if is_identity(question):
        return _identity(question, passages, idf, default_idf)
    relevant = [p for p in passages if p.dense >= rules.relevance and p.coverage >= rules.claim_coverage]

    text = clean_draft(draft)
    asked = set(qwords)
    measure = asks_measure(question)  # "How many/far ...?": the measure itself, not just any number
    kept: list[tuple[str, Scored]] = []
    if text and not is_abstention(text):
        for claim in claims(text):
            backing = [(support(claim, asked, p), p.coverage, p) for p in relevant]
            best = max(backing, key=lambda s: (s[0], s[1]), default=None)
            # "The population of Aleppo is 1" is not backed by a passage whose "1" is "(1 mile)"
            if best and best[0] >= rules.support and has_kind(question, claim) and \
                    (not measure or has_measure(question, best[2].hit.chunk.readable)) and \
                    _on_topic(claim, question, qwords, best[2], idf, default_idf) >= rules.sentence_coverage:
                kept.append((claim, best[2]))

    if kept:
        primary = kept[0][1]
    else:
        strong = [p for p in passages if has_kind(question, p.hit.chunk.readable)
                  and states_act(question, p.hit.chunk.readable)
                  and (not measure or has_measure(question, p.hit.chunk.readable))
                  and names_held(question, best_sentence(p, qwords, question)) and (
            (p.coverage >= rules.quote_coverage and p.dense >= rules.quote_dense)
            or (p.coverage >= 1.0 and len(qwords) >= 2 and p.dense >= rules.relevance)
            or (measure and p.coverage >= rules.measure_coverage and p.dense >= rules.quote_dense))]
        if not strong:
            found = None
            if rules.draft_agreement and embed is not None and text and not is_abstention(text):
                found = _agreed(question, text, passages, idf, default_idf, embed, rules)
            if found is None and judge is not None and embed is not None and rules.likelihood_gain > 0:
                found = _likeliest(question, passages, judge, embed, rules)
            if found is None:
                return Verdict(ABSTAIN, (), True, "abstained")
            return quoted(*found)
        primary = max(strong, key=lambda p: (p.coverage + p.dense + 0.5 * answer_cue(question, p.hit.chunk.readable),
                                             -int(p.key)))

    pair = None
    if kind(question) == "number":  # only quantities ("how far", "how many") can disagree
        further = [scored(str(len(hits) + 1), hit) for hit in more]
        pair = _disagreement(primary, passages, further, rules)
    if pair:
        primary, other = pair
        return Verdict(
            f"The sources differ: one article says “{best_sentence(primary, qwords, question)}” [{primary.key}], "
            f"while another says “{best_sentence(other, qwords, question)}” [{other.key}].",
            (citation_for(primary), citation_for(other)), False, "conflict")
    if not kept:
        sentence = best_sentence(primary, qwords, question)
        measure = measure_in(question, sentence)  # "How long ...?" -> "30-minute — “... a 30-minute telephone call ...”"
        return quoted(primary, sentence, f"{measure[:1].upper()}{measure[1:]}" if measure else "")

    parts: list[str] = []
    cited: dict[str, Citation] = {}
    for claim, passage in kept:
        body = claim.rstrip(".!?;: ")
        if len(body.split()) < 6:  # a bare phrase: show the sentence that states it
            claim_words = content_words(claim)
            parts.append(f"{body[:1].upper()}{body[1:]} — “{best_sentence(passage, claim_words)}” [{passage.key}]")
        else:
            parts.append(f"{body} [{passage.key}].")
        cited.setdefault(passage.key, citation_for(passage))
    return Verdict(" ".join(parts), tuple(cited.values()), False, "generated")


def _could_answer(question: str, passage: Scored, sentence: str, rules: Thresholds) -> bool:
    """Whether a sentence of ``passage`` could answer the question at all: the passage is near it
    (cosine) and holds its numbers, and the sentence is of the type asked (`has_kind`,
    `states_act`, a measure for "how many")."""
    return (passage.dense >= rules.relevance and numbers(question) <= numbers(passage.hit.chunk.readable)
            and has_kind(question, sentence) and states_act(question, sentence)
            and (not asks_measure(question) or has_measure(question, sentence)))


def _answerable_by(question: str, passages: Sequence[Scored], rules: Thresholds) -> list[tuple[Scored, str]]:
    """Every (passage, sentence) that `_could_answer` the question."""
    return [(passage, sentence) for passage in passages for sentence in sentences(passage.hit.chunk.readable)
            if _could_answer(question, passage, sentence, rules)]


def _agreed(question: str, text: str, passages: Sequence[Scored], idf: dict[str, float], default_idf: float,
            embed: Embed, rules: Thresholds) -> tuple[Scored, str] | None:
    """The sentence that the draft's own words and the embedder both point at, if it can answer.

    For paraphrases, whose answering sentence shares too few words with the question to be
    quoted on coverage: "Did the Western alliance get any heads-up before Moscow's naval
    missile launch?" drafts "... The attack was a complete surprise ...", and the sentence
    holding most of the draft's new words (IDF-weighted) is also the one nearest the question
    among all sentences of the passages near it: "... Moscow had given no advance warning of
    the missile strikes which came as a complete surprise." Either signal alone picks topical
    sentences for questions the articles do not answer; the two agree far less often, and
    the sentence must still be of the type asked (`_could_answer`). The model's words are
    only a pointer: what is shown is the sentence, quoted.
    """
    asked = set(content_words(question))
    new = [w for w in dict.fromkeys(content_words(text)) if w not in asked and w not in _META]
    nearby = [(p, s) for p in passages if p.dense >= rules.relevance for s in sentences(p.hit.chunk.readable)]
    if not new or not nearby:
        return None

    def pointed(sentence: str) -> float:
        words = set(content_words(sentence))
        return sum(idf.get(w, default_idf) for w in new if w in words)

    vectors = embed([question] + [s for _, s in nearby])
    nearest = max(range(len(nearby)), key=lambda i: float(vectors[i + 1] @ vectors[0]))
    top = max(pointed(s) for _, s in nearby)
    passage, sentence = nearby[nearest]
    if top <= 0 or pointed(sentence) < top or not _could_answer(question, passage, sentence, rules):
        return None
    return passage, sentence


def _likeliest(question: str, passages: Sequence[Scored], judge: Judge, embed: Embed,
               rules: Thresholds) -> tuple[Scored, str] | None:
    """The sentence that makes the question likeliest, among those that could answer it at all.

    For questions that share few words with their answer ("Which broadcaster first broke the
    news ...?" -> "... confirming a story first reported by CNN"). The candidates are
    `_answerable_by`. None if no candidate makes the question at least ``likelihood_gain``
    likelier per token, or if the likeliest only shares the question's topic
    (`residual_similarity`).
    """
    candidates = _answerable_by(question, passages, rules)
    if not candidates:
        return None
    gains = judge(question, [sentence for _, sentence in candidates])
    best = max(range(len(candidates)), key=lambda i: gains[i])
    if gains[best] < rules.likelihood_gain:
        return None
    passage, sentence = candidates[best]
    return (passage, sentence) if residual_similarity(question, sentence, embed) >= rules.residual_similarity else None


def _without(text: str, other: str) -> str:
    """``text`` without the words whose stems ``other`` holds: "Which hospital treated the wounded from the"."""
    shared = set(content_words(other))
    return " ".join(word for word in text.split() if not set(content_words(word)) & shared)


def residual_similarity(question: str, sentence: str, embed: Embed) -> float:
    """Cosine between what the question asks and what the sentence says, the words they share left out.

    A sentence about the question's topic shares its names and nouns and nothing else:
    "Which hospital treated the wounded from the explosion in the IS stronghold?" against "...
    an Islamic State stronghold in the north was rocked by a large explosion" leaves "Which
    hospital treated the wounded" against jets and air strikes (cosine 0.13). A paraphrase
    answers the rest: "Which branch of Islam do most Iranians follow?" against "Iran is
    majority Shiite." (0.64). 1.0 when the question has no words the sentence lacks.
    """
    rest = _without(question, sentence)
    if not content_words(rest):
        return 1.0
    vectors = embed([rest, _without(sentence, question)])
    return float(vectors[0] @ vectors[1])


def _identity(question: str, passages: Sequence[Scored], idf: dict[str, float], default_idf: float) -> Verdict:
    """'Who is the X?': the name a passage gives X, quoted with its sentence; else the abstention.

    The model's draft is not consulted: a name it writes next to a title the articles never
    fill ("the head of the Quds Force") would pass a word check and still be invented.
    """
    def share(title: Sequence[str], words: set[str]) -> float:
        return coverage(title, words, idf, default_idf)

    title = title_words(question)
    for passage in sorted(passages, key=lambda p: (-p.coverage, -p.dense)):
        for sentence in sentences(passage.hit.chunk.readable):
            name = named_in(title, sentence, share)
            if name and names_held(question, sentence):  # not "France's Defense Minister" for Syria's
                return quoted(passage, sentence, name)
    return Verdict(ABSTAIN, (), True, "abstained")
