"""Check a reader's draft against the passages it was shown: its own sentence, a quotation, or an abstention.

The reader writes a sentence or two and names passages in whatever form it likes ("Passage 2:",
"[2]", "(2)", "according to passages 1 and 3"); those names are stripped and never trusted.
Each claim is kept only if one retrieved passage, or two together, hold every name and number
it states and the other words it adds to the question (lemmatised, so "gave" meets "give"),
and if it has the kind of answer asked for ("How many ...?" wants a number). The citation is
that passage, whatever the model wrote (RAGFlow's insert_citations idea). A claim that fails
never reaches the user. When none survives, a sentence that carries the question's own words
strongly is quoted; otherwise the answer is the fixed abstention. Passages of different
articles that give different figures for one quantity are reported as a disagreement.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields

from .chunk import split_sentences
from .config import Config
from .prompts import ABSTAIN
from .text import AUXILIARIES, lemmas, numbers, tokens
from .types import Citation, Hit

# How a reader points at passages: "Passage 2", "passages 1 and 3", "[2]", "(2, 3)".
_KEYS = r"\d+(?:\s*(?:,|and|&|or)\s*\d+)*"
_CITE = re.compile(rf"\bpassages?\s*({_KEYS})|\[\s*({_KEYS})\s*\]|\(\s*({_KEYS})\s*\)", re.IGNORECASE)
_SAYS = r"(?:states?|says?|said|indicates?|mentions?|shows?|notes?|reports?|explains?|confirms?|suggests?)"
# ... and how it wraps an answer in them: "According to Passage 1, ...", "Passage 3 indicates that ...",
# "..., as stated in Passage 2.", "This information is found in Passage 3."
_LEADS = [re.compile(p, re.IGNORECASE) for p in (
    r"^\s*(?:according to|as (?:stated|mentioned|noted|reported) in|based on|in|from)\s+@\s*[,:]?\s*",
    rf"^\s*@\s*(?:{_SAYS}\s*(?:that)?)?\s*[,:]?\s*",
)]
_TAILS = [re.compile(p, re.IGNORECASE) for p in (
    r"[,;]?\s*(?:which|this|that|it|as)?\s*(?:is|was|are|were)?\s*(?:also\s+)?"
    r"(?:according to|citing|quoting|as (?:stated|mentioned|noted|reported|shown) in|(?:stated|mentioned|noted|found|given|"
    r"reported|shown|provided) in|based on|see|in|from)\s+@\s*[.!]?\s*$",
    r"[,;]?\s*(?:which|this|that|it)\s+(?:is|was)\s+@\s*[.!]?\s*$",
    r"[,;]?\s*@\s*[.!]?\s*$",
)]
# ... and how it names one inside a sentence: "The official mentioned in Passage 1 states ...".
# A bare "in" or "by" before a mark is part of the claim ("killed by [2] ISIS"), so it needs its participle.
_INNER = re.compile(r"[,;]?\s*(?:according\s+to|(?:as\s+)?(?:mentioned|quoted|cited|named|described|referred\s+to|"
                    r"stated|noted|reported)\s+(?:in|from|by))\s+@\s*,?", re.IGNORECASE)
_ABOUT_PASSAGES = re.compile(r"^(?:this|the|that|it|such)\b.{0,40}\b(?:passage|information|answer|fact)s?\b.{0,30}"
                             r"\b(?:found|stated|mentioned|given|provided|comes?|taken|is in|are in)\b", re.IGNORECASE)
_REFUSALS = ("do not say", "does not say", "don't say", "doesn't say", "not stated", "not mentioned",
             "no information", "cannot answer", "can't answer", "not provided", "not specified", "does not specify",
             "do not specify", "not given", "unknown", "does not mention", "do not mention", "not clear from",
             "no mention", "do not provide", "does not provide", "doesn't mention", "not possible to determine")
# Words a reader wraps answers in; they are no claim about the world.
_META = set(lemmas("passage passages question answer article articles mention state information text according "
                   "indicate provide specify report"))
_WH = re.compile(r"^\s*(?:and\s+)?(who|whom|why|when|where|how (?:many|much|far|long|close|old|soon)|"
                 r"(?:on |in |at )?what (?:year|day|date|month|time|night))\b", re.IGNORECASE)
# a part of a question that asks something of its own ("And who holds the west?"; "What about France?" does not)
_ASKING = re.compile(r"\s*(?:and\s+|so\s+)?(?:who|whom|whose|what|which|when|where|why|how)\b(?!\s+about)", re.IGNORECASE)
_QUANTITY = re.compile(r"^\s*what\s+(?:is|was|are|were)\s+the\s+(?:population|number|cost|price|age|size|height|"
                       r"length|weight|range|distance|speed|depth|budget|value|(?:death\s+)?toll)\b", re.IGNORECASE)
_MONTHS = "january|february|march|april|may|june|july|august|september|october|november|december"
_DAYS = "monday|tuesday|wednesday|thursday|friday|saturday|sunday|today|yesterday|tonight|weekend|week|month|year"
_DATE = re.compile(rf"\b(?:{_DAYS}|{_MONTHS}|\d{{4}}|days?|hours?|weeks?|months?|years?|soon|earlier|later|"
                   rf"night|morning|evening|afternoon)\b", re.IGNORECASE)
# A time right after a verb of saying dates the report, not the event: "confirmed on Friday that he had been
# killed" does not say when he was killed (unless the question asks when something was said or made known).
_SAYING = (r"said|says|say|told|tells|tell|confirm(?:s|ed)?|announc(?:e|es|ed)|report(?:s|ed)?|stat(?:e|es|ed)|"
           r"add(?:s|ed)?|insist(?:s|ed)?|claim(?:s|ed)?|den(?:y|ies|ied)|warn(?:s|ed)?|acknowledg(?:e|es|ed)|"
           r"admit(?:s|ted)?|declar(?:e|es|ed)|assur(?:e|es|ed)|publish(?:es|ed)?|releas(?:e|es|ed)|broadcast|"
           r"reveal(?:s|ed)?|voic(?:e|es|ed)|express(?:es|ed)?|comment(?:s|ed)?|made public|make public")
_SAYING_ASKED = re.compile(rf"\b(?:{_SAYING})\b", re.IGNORECASE)
_SAID_WHEN = re.compile(rf"\b(?:{_SAYING})(?:\s+(?:reporters|journalists|him|her|them|us|it))?\s+"
                        rf"(?:(?:on|last|this|late|early)\s+)?(?:{_DAYS})(?:\s+(?:night|morning|evening|afternoon))?\b",
                        re.IGNORECASE)
_CALENDAR_ASKED = re.compile(r"\b(?:date|year|month)\b", re.IGNORECASE)
_CALENDAR = re.compile(rf"\b(?:{_MONTHS}|\d{{4}})\b", re.IGNORECASE)
_REASON = re.compile(r"\b(?:because|since|due to|owing to|as a result|in order to|so that|to|for|in support of|"
                     r"in response to|in retaliation|aimed at|after|following|amid|over)\b", re.IGNORECASE)
_PLACE = re.compile(r"\b(?:in|at|near|into|outside|inside|across|from|off)\s+(?:(?:the|of|a|an|[a-z]+ern)\s+){0,2}"
                    r"([A-Z][\w’'-]*)")  # "in Iran", "outside of Syria", "in western Syria"
_YES_NO = re.compile(r"^\s*(?:yes|no)\b[,.;:!]?\s*", re.IGNORECASE)
_YES_NO_QUESTION = re.compile(rf"^\s*(?:and\s+|so\s+)?(?:{'|'.join(sorted(AUXILIARIES))})\b", re.IGNORECASE)
_ROUGHLY = {"dozens", "hundreds", "thousands", "millions", "scores", "several", "few"}
_UNITS = {"kilometres": "km", "kilometers": "km", "kilometre": "km", "kilometer": "km", "km": "km",
          "miles": "mile", "mile": "mile", "metres": "m", "meters": "m", "percent": "%"}


@dataclass(frozen=True)
class Rules:
    """The evidence thresholds; defaults and meanings are Config's."""

    missing_words: int = Config.missing_words
    relevance: float = Config.relevance
    quote_coverage: float = Config.quote_coverage
    quote_dense: float = Config.quote_dense
    check: float = Config.check
    requote: float = Config.requote

    @classmethod
    def of(cls, config: Config) -> Rules:
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
class Passage:
    """A retrieved passage with its key and the words it holds."""

    key: str
    hit: Hit
    words: frozenset[str]  # `lemmas` of its text, and the question's names it `referred` to
    coverage: float  # IDF-weighted share of the question's words it holds

    @property
    def text(self) -> str:
        return self.hit.chunk.readable

    @property
    def citation(self) -> Citation:
        c = self.hit.chunk
        return Citation(self.key, c.doc_id, c.start, c.end, c.text)


def idf_table(chunk_words: Sequence[set[str]]) -> tuple[dict[str, float], float]:
    """Inverse document frequency of each word over the chunks, and the value for unseen words."""
    df: dict[str, int] = {}
    for words in chunk_words:
        for word in words:
            df[word] = df.get(word, 0) + 1
    n = max(len(chunk_words), 1)
    return {w: math.log(1 + n / c) for w, c in df.items()}, math.log(1 + n)


def coverage(asked: Sequence[str], held: set[str] | frozenset[str], idf: dict[str, float], default: float) -> float:
    """IDF-weighted share of the question's words ``asked`` found in ``held`` (0..1)."""
    total = sum(idf.get(w, default) for w in asked)
    return sum(idf.get(w, default) for w in asked if w in held) / total if total else 0.0


def parse(draft: str) -> tuple[str, bool]:
    """The reader's answer without its passage names and wrapping, and whether it declines to answer.

    parse("Passage 5: Gen. Hamedani was killed by ISIS extremists.") -> ("Gen. Hamedani was killed by ISIS extremists.", False)
    parse("Most Iranians follow Shiite Islam. This is stated in Passage 1.") -> ("Most Iranians follow Shiite Islam.", False)
    """
    lines = [line.strip() for line in draft.strip().splitlines() if line.strip()]
    text = re.sub(r"^(?:answer|a)\s*:\s*", "", lines[0] if lines else "", flags=re.IGNORECASE)
    kept = [s for s in _sentences(text) if not _ABOUT_PASSAGES.match(s)]
    marked = _CITE.sub("@", " ".join(kept))
    for pattern in _LEADS + _TAILS:
        marked = pattern.sub(" " if pattern in _TAILS else "", marked)
    marked = _INNER.sub(" ", marked)  # "The official mentioned in @ states ..." -> "The official states ..."
    body = re.sub(r"\s*@\s*", " ", marked)  # marks left inside the sentence
    body = re.sub(r"\(\s*\)|\[\s*\]", "", body)
    body = re.sub(r"\s+([.,;:!?])", r"\1", " ".join(body.split())).strip(" ,;:").strip('"“”').strip()
    if body and body[-1] not in ".!?\"”":
        body += "."
    body = body[:1].upper() + body[1:]
    low = body.lower()
    return body, not body or any(p in low for p in _REFUSALS)


def marks_only(draft: str) -> bool:
    """Whether the reader answered with nothing but passage numbers: marks_only("Passage 1") -> True."""
    return bool(_CITE.search(draft)) and not re.search(r"[^\W\d_]", _CITE.sub("", draft))


def kind(question: str) -> str | None:
    """The answer type a question asks for: number | date | place | reason, or None (open).

    Of a question in parts, the last part that opens with a question word asks it: "How far are
    the jihadists from Aleppo? And who holds the west?" wants no number ("What about France?" asks
    nothing of its own).
    """
    parts = [part for part in re.split(r"(?<=\?)\s+", question.strip()) if part]
    question = next((part for part in reversed(parts) if _ASKING.match(part)), parts[0] if parts else question)
    if _QUANTITY.match(question):
        return "number"
    match = _WH.match(question)
    word = match.group(1).lower() if match else ""
    if word.startswith("how"):
        return "date" if word.endswith("soon") else "number"
    return {"why": "reason", "where": "place", "when": "date"}.get(word, "date" if word.startswith(("on", "in", "at", "what")) else None)


def has_kind(question: str, text: str) -> bool:
    """Whether ``text`` could answer the question's type (True when the type is open).

    "How many ...?" needs a number the question does not hold (or "thousands"), "When ...?" a
    time ("on Thursday", "in 2005"; a calendar word for "On what date ...?"), "Where ...?" a
    capitalised place the question does not name, "Why ...?" a cause or purpose. A time that dates only
    the telling ("confirmed on Friday that he had been killed") answers "When was he killed?" not;
    it answers "When was his death confirmed?".
    """
    wanted = kind(question)
    if wanted == "number":
        return bool(numbers(text) - numbers(question)) or bool(_ROUGHLY & set(tokens(text)))
    if wanted == "date":
        if not _SAYING_ASKED.search(question):
            text = _SAID_WHEN.sub(" ", text)
        return bool((_CALENDAR if _CALENDAR_ASKED.search(question) else _DATE).search(text))
    if wanted == "reason":
        return bool(_REASON.search(text))
    if wanted == "place":
        asked = set(lemmas(question))
        return any(not set(lemmas(m.group(1))) <= asked for m in _PLACE.finditer(text))
    return True


def names(text: str, split: bool = True) -> list[str]:
    """The capitalised words and acronyms ``text`` states, as `lemmas` ("the ISIS extremists" -> ["isi"]).

    A sentence's first word is a name only if it is no English word: "Most Iranians ..." names
    Iranians, "Tasnim said ..." names Tasnim. ``split=False`` reads ``text`` as one sentence (`_capitalised`).
    """
    return [word for run in name_runs(text, split) for word in run]


def name_runs(text: str, split: bool = True) -> list[list[str]]:
    """The runs of capitalised words ``text`` states, each as `lemmas`: "Gen. Hossein Hamedani was
    killed by ISIS" -> [["gen", "hossein", "hamedani"], ["isi"]] (a sentence's first word as in `names`)."""
    return [run for run in (lemmas(" ".join(words)) for words in _capitalised(text, split)) if run]


def _capitalised(text: str, split: bool = True) -> list[list[str]]:
    """The runs of capitalised words of ``text`` as written; a comma or a possessive ends one
    ("Russia, Syria", "Kerry's Russian counterpart"). ``split=False`` reads it as one sentence
    (a question: "When was Gen. Hossein Hamedani killed?" has no sentence end after "Gen.")."""
    from .spelling import english

    runs: list[list[str]] = []
    for sentence in _sentences(text) if split else [text]:
        run: list[str] = []
        end = 0
        for i, match in enumerate(re.finditer(r"[\w’'-]+", sentence)):
            word = match.group()
            if run and (sentence[end:match.start()].strip(". ") or re.search(r"['’]s$", run[-1])):  # "Gen. Hossein"
                runs.append(run)
                run = []
            if (word[:1].isupper() or word[:1].isdigit()) and not (i == 0 and word.lower() in english()):
                run.append(word)
            elif run:
                runs.append(run)
                run = []
            end = match.end()
        if run:
            runs.append(run)
    return runs


def referred(question: str, text: str) -> set[str]:
    """The words of the question's names that ``text`` refers to by their last word, as `lemmas`:
    news names a person in full once and by surname after, so "General Hamedani" refers to "Gen.
    Hossein Hamedani" and to "Hossein Hamedani" (a title is no part of the name, nor a name's last
    word: nameparser's list; "State" is no surname of "Islamic State"). A name ``text`` gives
    otherwise ("Ali Hamedani") is not referred to.
    """
    from nameparser.config import CONSTANTS

    titles = CONSTANTS.titles
    runs = [(words, lemmas(" ".join(words))) for words in _capitalised(text)]
    found: set[str] = set()
    for asked in _capitalised(question, split=False):
        run = lemmas(" ".join(asked))
        if len(asked) < 2 or asked[-1].lower() in titles:
            continue
        before = [words[:-1] for words, said in runs if said and _held(run[-1], {said[-1]})]
        if before and all(word.lower() in titles or all(_held(w, set(run)) for w in lemmas(word))
                          for words in before for word in words):
            found |= set(run)
    return found


def question_names(question: str) -> list[str]:
    """The names a question gives, as `lemmas`. A question is one sentence ("Gen. Hossein" goes
    on) whose first word is a name only if it is no English word: "Who", "In" are not, and the
    word after is read as written ("In Iraq, how many ...?" names Iraq)."""
    return names(question, split=False)


def _held(name: str, words: frozenset[str] | set[str]) -> bool:
    """A name is held as a word, as the start of one ("iran" in "iranian"), as an acronym of a run,
    or by a word sharing its first four letters and more ("britain" and "british", "turkey" and "turkish")."""
    return any(w.startswith(name) or (name.startswith(w) and len(w) > 2) or _kin(name, w) for w in words)


def _kin(a: str, b: str) -> bool:
    n = 0
    for x, y in zip(a, b):
        if x != y:
            break
        n += 1
    return n >= 4 and n >= 0.5 * max(len(a), len(b))


def mentions(text: str) -> set[str]:
    """What ``text`` names: its `lemmas` and the initials of its capitalised runs ("NATO" meets the name spelled out)."""
    found = set(lemmas(text))
    run: list[str] = []
    for word in re.findall(r"[\w’'-]+", text) + [""]:
        if word[:1].isupper():
            run.append(word[0].lower())
            continue
        found |= {"".join(run[i:j]) for i in range(len(run)) for j in range(i + 2, len(run) + 1)}
        run = []
    return found


def backing(claim: str, question: str, passages: Sequence[Passage], missing: int) -> tuple[tuple[Passage, ...], bool]:
    """The passage, or pair of passages, that holds the claim, and whether it holds all of it.

    Every number and every name of the claim must be held, else nothing backs it ((), False).
    Of its other words beyond the question's, at most ``missing`` may be absent for the claim
    to be held whole (True); a passage that holds the names and numbers but fewer of the words
    is returned with False: the reader pointed at it in words of its own.
    """
    new = added_words(claim, question)
    claim = _YES_NO.sub("", claim)
    proper = set(names(claim)) - set(question_names(question)) - _META
    stated = numbers(claim)

    def holds(group: tuple[Passage, ...]) -> tuple[bool, int]:
        words = frozenset().union(*(mentions(p.text) for p in group))
        nums = set().union(*(numbers(p.text) for p in group))
        lost = sum(w not in words for w in new if w not in proper)
        # a figure is held in any spelling: "3 km" by "three kilometres"
        return stated <= nums and all(_held(n, words) or n in nums for n in proper), lost

    singles = sorted(((holds((p,)), p) for p in passages), key=lambda s: (not s[0][0], s[0][1], -s[1].coverage))
    if singles and singles[0][0][0] and singles[0][0][1] <= missing:
        return (singles[0][1],), True
    for i, one in enumerate(passages):
        for other in passages[i + 1:]:
            named, lost = holds((one, other))
            if named and lost <= missing:
                return (one, other), True
    if singles and singles[0][0][0] and singles[0][0][1] < len(new):
        return (singles[0][1],), False
    return (), False


def added_words(claim: str, question: str) -> list[str]:
    """The claim's `lemmas` that neither the question nor passage talk holds, in order, once each.

    "Yes, all the missiles hit" claims that they all hit: a leading yes or no is no word of its own.
    """
    asked = set(lemmas(question)) | _META
    return [w for w in dict.fromkeys(lemmas(_YES_NO.sub("", claim))) if w not in asked]


def adds(question: str, claim: str) -> bool:
    """Whether a claim says anything the question does not: a word of its own beyond the passage talk
    ("Tasnim" in "Tasnim reported it."); a yes-no question is answered by restating it.

    adds("What did CBS ask Obama about Iran?", "CBS asked Obama about Iran.") -> False
    """
    if _YES_NO_QUESTION.match(question):
        return True  # "Did all the missiles hit?" is answered by "All the missiles hit."
    return bool(added_words(claim, question))


def names_held(question: str, text: str) -> bool:
    """Whether ``text`` holds every name the question gives ("crashed in Iraq" is not answered by "in
    Iran"); a person's may be held by the surname (`referred`)."""
    held, surnamed = mentions(text), referred(question, text)
    return all(_held(name, held) or name in surnamed for name in question_names(question))


def _sentences(text: str) -> list[str]:
    return [text[s:e] for s, e in split_sentences(text)] or ([text] if text.strip() else [])


def best_sentence(text: str, wanted: Sequence[str], question: str = "") -> str:
    """The sentence of a passage's ``text`` that holds most of ``wanted`` (lemmas); the answer type breaks ties."""
    return max(_sentences(text), key=lambda s: (len(set(wanted) & set(lemmas(s))),
                                                has_kind(question, s) if question else 0, len(s)))


def dated_first(question: str, pool: Sequence[Hit]) -> list[Hit]:
    """For a "When ...?" question, the passages whose sentence about the question states a time and holds at
    least half of its words, first; otherwise (and within each group) ``pool`` in its order.

    A reader copies the first passage that mentions the event, and most of those only say that it
    happened: "General Hossein Hamedani was killed during an advisory mission" ranks above "The Guards
    said General Hamedani was killed on Thursday night", which may even fall outside the passages shown.
    """
    if kind(question) != "date":
        return list(pool)
    asked = set(lemmas(question))

    def dated(hit: Hit) -> bool:
        sentence = best_sentence(hit.chunk.readable, list(asked), question)
        return has_kind(question, sentence) and 2 * len(asked & set(lemmas(sentence))) >= len(asked)

    return sorted(pool, key=lambda h: not dated(h))


def pointed_at(passage: Passage, claim: str, question: str) -> str:
    """The sentence of ``passage`` that ``claim`` rests on, if it is the kind of answer asked for; else ""."""
    sentence = best_sentence(passage.text, lemmas(claim), question)
    return sentence if has_kind(question, sentence) else ""


def quoted(passage: Passage, sentence: str) -> Verdict:
    """A sentence of ``passage`` quoted and cited: '“Pentagon spokesman Peter Cook said ...” [1]'."""
    body = sentence.strip().strip('“”"')
    return Verdict(f"“{body}” [{passage.key}]", (passage.citation,), False, "quoted")


Check = Callable[[str, str], float]  # (passage, proposed answer) -> the reader's P(yes) that it answers


def verify(question: str, draft: str, hits: Sequence[Hit], idf: dict[str, float], default_idf: float,
           rules: Rules = Rules(), more: Sequence[Hit] = (), check: Check | None = None) -> Verdict:
    """Decide what the user sees for ``draft`` over ``hits`` (keys 1..k).

    The reader's claim, held whole by a passage and of the type asked, is shown as written; a
    claim whose names and numbers a passage holds, in other words, is replaced by the sentence
    of that passage it points at, quoted. A claim stating a name or number no passage holds,
    or a draft that declines, leaves only a passage that carries the question's own words
    strongly to quote; so does a draft with no answer of the kind asked ("confirmed on Friday"
    for "When was he killed?"). ``check``, if given, must then say yes (at least ``rules.check``) to what
    would be shown and the passage behind it; a sentence of the reader's it says no to may still
    be replaced by the sentence of its passage that it rests on, quoted, if it says at least
    ``rules.requote`` to the reader's and yes to the passage's. ``more`` are further retrieved passages, searched
    only for a figure that disagrees with the answer's (cited with key k+1).
    """
    asked = list(dict.fromkeys(lemmas(question)))

    def passage(key: str, hit: Hit) -> Passage:
        words = frozenset(lemmas(hit.chunk.readable)) | referred(question, hit.chunk.readable)
        return Passage(key, hit, words, coverage(asked, words, idf, default_idf))

    passages = [passage(str(i), hit) for i, hit in enumerate(hits, 1)]
    near = [p for p in passages if p.hit.dense >= rules.relevance]
    text, declined = parse(draft) if draft else ("", True)
    kept: list[tuple[str, tuple[Passage, ...]]] = []
    pointed: tuple[Passage, str] | None = None
    claims = [] if declined else _sentences(text)[:2]
    # "Tehran confirmed on Friday that he had been killed" for "When was he killed?" answers another question:
    # the reader has, in effect, declined, and a passage that answers it may still be quoted
    typed = [has_kind(question, claim) for claim in claims]
    elsewhere = bool(claims) and not any(typed)
    for claim, of_kind in zip(claims, typed):
        group, whole = backing(claim, question, near, rules.missing_words)
        # "CBS asked Obama about Iran." for "What did CBS ask Obama about Iran?" is held, and answers nothing
        if group and whole and of_kind and adds(question, claim):
            kept.append((claim, group))
        elif group and not kept and not pointed:
            sentence = pointed_at(group[0], claim, question)
            pointed = (group[0], sentence) if sentence else None
    if kept:
        shown, primary = " ".join(c for c, _ in kept), kept[0][1][0]
    elif pointed:
        primary, shown = pointed
    elif declined or elsewhere:
        strong = [p for p in passages if p.hit.dense >= rules.quote_dense and p.coverage >= rules.quote_coverage
                  and has_kind(question, sentence := best_sentence(p.text, asked, question))
                  and names_held(question, sentence)]
        if not strong:
            return Verdict(ABSTAIN, (), True, "abstained")
        primary = max(strong, key=lambda p: (p.coverage + p.hit.dense, -int(p.key)))
        shown = best_sentence(primary.text, asked, question)
    else:
        return Verdict(ABSTAIN, (), True, "abstained")  # the reader's answer is not in the passages
    if check is not None and rules.check > 0:
        evidence = " ".join(p.text for _, group in kept for p in group) if kept else primary.text
        belief = check(evidence, shown)
        if belief < rules.check:
            # a mild doubt of the reader's own sentence: the passage's sentence it rests on, asked about the same way
            sentence = pointed_at(primary, shown, question) if kept and belief >= rules.requote else ""
            if not (sentence and check(primary.text, sentence) >= rules.check):
                return Verdict(ABSTAIN, (), True, "abstained")
            kept, shown = [], sentence

    if kind(question) == "number":  # only quantities can disagree
        further = [passage(str(len(hits) + 1), hit) for hit in more]
        pair = _disagreement(primary, passages, further, rules)
        if pair:
            one, other = pair
            return Verdict(f"The sources differ: one article says “{best_sentence(one.text, asked, question)}” [{one.key}], "
                           f"while another says “{best_sentence(other.text, asked, question)}” [{other.key}].",
                           (one.citation, other.citation), False, "conflict")
    if not kept:
        return quoted(primary, shown)
    parts, cited = [], {}
    for claim, group in kept:
        parts.append(f"{claim.rstrip('.!?;: ')} {''.join(f'[{p.key}]' for p in group)}.")
        for p in group:
            cited.setdefault(p.key, p.citation)
    return Verdict(" ".join(parts), tuple(cited.values()), False, "generated")


def _quantities(text: str) -> dict[str, set[str]]:
    """Numbers keyed by the unit after them: "10 kilometres (six miles)" -> {"km": {"10"}, "mile": {"6"}}."""
    found: dict[str, set[str]] = {}
    words = tokens(text)
    for word, unit in zip(words, words[1:]):
        if unit in _UNITS and numbers(word):
            found.setdefault(_UNITS[unit], set()).update(numbers(word))
    return found


def _disagreement(primary: Passage, shown: Sequence[Passage], further: Sequence[Passage],
                  rules: Rules) -> tuple[Passage, Passage] | None:
    """Two passages of different articles, both about the question, giving different figures in one unit."""

    def about(p: Passage) -> bool:
        return p.hit.dense >= rules.quote_dense or p.coverage >= rules.quote_coverage

    ones = sorted((p for p in shown if about(p)), key=lambda p: p is not primary)
    for i, one in enumerate(ones):
        mine = _quantities(one.text)
        for other in ones[i + 1:] + [p for p in further if about(p)]:
            if other.hit.chunk.doc_id == one.hit.chunk.doc_id:
                continue
            theirs = _quantities(other.text)
            shared = set(mine) & set(theirs)
            if shared and all(mine[u].isdisjoint(theirs[u]) for u in shared):
                return one, other
    return None
