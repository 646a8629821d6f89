"""What kind of answer a question asks for, and finding it in a passage sentence.

Classic answer-type matching, independent of the LLM: "How many ...?" wants a number the
question does not already hold, "When ...?" a day or date, "Who killed X?" an agent
("killed by ..."). Identity questions ("Who is the Pentagon spokesman?", "What was the name
of the warship?") are answered only by an apposition in a passage, the way news writes
titles and names: "Pentagon spokesman Peter Cook said ...". When no passage has one, the
articles do not name the person and the answer is an abstention, however well the passage
matches the question's words ("... a close ally of the head of the Quds Force, which is ...").
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from .chunk import split_sentences
from .text import content_words, numbers, tokens

_WH = re.compile(r"^\s*(who|whom|why|when|where|how (many|much|far|long|close|old)|(?:on |in )?what (year|day|date|month))\b",
                 re.IGNORECASE)
# "What is the population of Aleppo?" asks for a number as surely as "How many ...?" does.
_QUANTITY = re.compile(r"^\s*what\s+(?:is|was|are|were)\s+the\s+(population|number|cost|price|age|size|"
                       r"height|length|weight|range|distance|speed|altitude|depth|width|area|budget|value|"
                       r"(?:death\s+)?toll)\b", re.IGNORECASE)
# "What type of warship ...?" asks how the articles qualify the noun.
_SORT_OF = re.compile(r"\b(?:type|kind|sort|class|model|make)s?\s+of\s+([a-z]+)", re.IGNORECASE)
_BARE = {"a", "an", "the", "its", "their", "his", "her", "this", "that", "one", "any", "each", "every", "of", "from"}
_HOW = re.compile(r"\bhow (far|close|long|old|much|many)\b((?:\s+\w+){0,3})", re.IGNORECASE)
# "On what date ...?" or "In what year ...?" is not answered by a weekday ("said on Thursday").
_CALENDAR_ASKED = re.compile(r"\b(?:date|year|month)\b", re.IGNORECASE)
_MONTHS = "january|february|march|april|may|june|july|august|september|october|november|december"
_CALENDAR = re.compile(rf"\b(?:{_MONTHS}|jan|feb|mar|apr|jun|jul|aug|sept?|oct|nov|dec|\d{{4}})\b", re.IGNORECASE)
_DAY_OR_DATE = re.compile(rf"\b(monday|tuesday|wednesday|thursday|friday|saturday|sunday|today|yesterday|{_MONTHS}|\d{{4}})\b",
                          re.IGNORECASE)
# The measure a "how ..." question asks for, and how a passage writes one.
_DISTANCE = r"\d[\d.,]*\s*(?:-\s*)?(?:km|kilomet(?:re|er)s?|miles?|met(?:re|er)s?)\b"
_MEASURES = {
    "far": _DISTANCE,
    "close": _DISTANCE,
    "long": r"\b(?:\d[\d.,]*|one|two|three|four|five|six|seven|eight|nine|ten|several)\s*-?\s*"
            r"(?:seconds?|minutes?|hours?|days?|weeks?|months?|years?)\b",
    "old": r"\b\d+\s*-?\s*years?\s*-?\s*old\b|\baged\s+\d+",
    "much": r"[$€£]\s*\d[\d.,]*(?:\s*(?:million|billion)\b)?|\b\d[\d.,]*\s*(?:million|billion|dollars|euros|pounds)\b",
}
# How news states a cause or purpose.
_REASON = re.compile(r"\b(?:because|since|due to|owing to|as a result|in order to|so that|so as to|in support of|"
                     r"in response to|in retaliation|aimed at|for fear|in protest|after|following|amid)\b", re.IGNORECASE)
_PLACE = re.compile(r"\b(?:in|at|near|into|outside|over)\s+(?:the\s+)?([A-Z][\w’'-]*(?:\s+[A-Z][\w’'-]*)*)")
_WHO_IS = re.compile(r"^\s*who\s+(?:is|was|are|were)\s+(?:the\s+)?(.+?)[\s?.!]*$", re.IGNORECASE)
_NAME_OF = re.compile(r"\bwhat\s+(?:is|was|were|are)\s+the\s+names?\s+of\b", re.IGNORECASE)
# Where the title in "Who is the Pentagon spokesman quoted about ...?" ends.
_TITLE_END = {"in", "at", "on", "by", "about", "that", "who", "which", "with", "from", "during"}
_HONORIFIC = r"(?:(?:Gen|Maj|Lt|Col|Adm|Brig|Dr|Mr|Mrs|Ms|Sen|Rep|Gov|Prof|Sgt|Capt|Cmdr)\.?\s+)*"
_NAME_WORD = r"(?:[A-Z][\w’'-]*|al-\w+|bin|de|van|von)"
_NAME_AFTER = re.compile(rf"\s*,?\s*{_HONORIFIC}({_NAME_WORD}(?:\s+{_NAME_WORD})*)")


def kind(question: str) -> str | None:
    """The answer type the question asks for: agent | number | date | place | reason, or None."""
    match = _WH.match(question)
    if not match:
        return "number" if _QUANTITY.match(question) else None
    word = match.group(1).lower()
    if word in ("who", "whom"):
        return "agent"
    if word.startswith("how"):
        return "number"
    if word == "where":
        return "place"
    if word == "why":
        return "reason"
    return "date"


def answer_cue(question: str, sentence: str) -> float:
    """1.0 when ``sentence`` has the kind of answer the question asks for, else 0.

    Used to choose between passages that carry the question equally: "Who killed X?" wants
    an agent ("killed by ..."), "How many ...?" a number the question does not already hold,
    "When ...?" a day or date, "Where ...?" a place ("in Iran").
    """
    wanted = kind(question)
    if wanted == "agent":
        verbs = [w for w in tokens(question)[1:] if w.endswith("ed") or w in ("shot", "hit", "won", "led", "said")]
        low = sentence.lower()
        return float(any(re.search(rf"\b{re.escape(v)} by\b", low) for v in verbs))
    return float(wanted is not None and has_kind(question, sentence))


def has_kind(question: str, text: str) -> bool:
    """Whether ``text`` could answer the question's type at all (True when the type is open).

    A claim for "How many missiles crashed?" must hold a number the question does not;
    one for "On what day ...?" a day or date; one for "Where ...?" a named place ("in Iran")
    the question does not name; one for "Why ...?" a cause ("because", "in support of"). Names
    of people are too open to check here.
    """
    wanted = kind(question)
    if wanted == "number":
        return bool(numbers(text) - numbers(question))
    if wanted == "date":
        return bool((_CALENDAR if _CALENDAR_ASKED.search(question) else _DAY_OR_DATE).search(text))
    if wanted == "reason":  # "Why were the boasts removed?" is not answered by "the boasts were removed"
        return bool(_REASON.search(text))
    if wanted == "place":
        asked = set(content_words(question))
        places = [(m.group(1), bool(asked & set(content_words(" ".join(text[:m.start()].split()[-3:])))))
                  for m in _PLACE.finditer(text)]
        # "Where did the missiles crash?": "crashed in Iran", not "fired from a warship in the Caspian Sea"
        places = [p for p in places if p[1]] or places
        return any(not set(content_words(place)) <= asked for place, _ in places)
    sort = _SORT_OF.search(question)
    if sort:  # "What type of warship ...?" is not answered by "fired from a warship"
        said = [m.group(1).lower() for m in re.finditer(rf"(\S+)\s+{re.escape(sort.group(1))}\w*\b", text, re.IGNORECASE)]
        asked = set(content_words(question))
        return not said or any(w not in _BARE and not set(content_words(w)) & asked for w in said)
    return True


# Past forms a stemmer cannot reach: "Who said ...?" / "What did Lavrov say ...?" and "said".
_IRREGULAR_FORMS = {
    "win": "won", "write": "wrote written", "lead": "led", "shoot": "shot", "hit": "hit", "say": "said",
    "tell": "told", "send": "sent", "take": "took taken", "give": "gave given", "make": "made",
    "break": "broke broken", "begin": "began begun", "build": "built", "bring": "brought", "catch": "caught",
    "choose": "chose chosen", "drive": "drove driven", "fight": "fought", "hold": "held", "keep": "kept",
    "leave": "left", "lose": "lost", "meet": "met", "pay": "paid", "run": "ran", "sell": "sold",
    "strike": "struck", "throw": "threw thrown", "fly": "flew flown", "buy": "bought", "think": "thought",
    "find": "found", "get": "got", "go": "went gone", "come": "came", "see": "saw seen", "know": "knew known",
    "hear": "heard", "fall": "fell fallen", "speak": "spoke spoken", "stand": "stood", "feel": "felt",
}
_AUXILIARY = {"does", "always", "sometimes"}  # "Who does ...?" asks no act of its own here
# "What did Obama say ...?" is answered by what he "suggested" as much as by what he "said", and "How did
# the Pentagon describe ...?" by what it "said": for a verb of speech, any reported speech states the act.
_SPEAK = {"say", "tell", "describe", "call", "claim", "state", "announce", "suggest", "declare", "report"}
_SPEECH = {"said", "says", "saying", "told", "tells", "stated", "states", "suggested", "suggests", "claimed", "claims",
           "announced", "announces", "declared", "described", "describes", "called", "calls", "reported", "reports",
           "warned", "added", "noted", "insisted", "argued", "voiced", "denied", "denies", "confirmed", "confirms"}
_IRREGULAR = {form for forms in _IRREGULAR_FORMS.values() for form in forms.split()}
# "What did Lavrov say to Kerry?", "How did the army respond ...?", "What weapons did the CIA give ...?"
_DID = re.compile(r"^\s*(?:what|how|why)(?:\s+[a-z]+)?\s+(?:did|does|do|will|would|has|have|had|can|could)\s+(.+)$",
                  re.IGNORECASE)
_SUBJECT_END = {"to", "about", "for", "from", "in", "on", "at", "of", "with", "by", "before", "after", "during",
                "that", "what", "it", "its", "their", "his", "her", "them", "the", "a", "an", "this", "these"}


def asked_verb(question: str) -> str | None:
    """The verb of "What/How/Why did <subject> <verb> ...?", lower-cased, or None.

    asked_verb("What did Lavrov say to Kerry during their call?") -> "say"
    asked_verb("What weapons did the CIA give the rebels?") -> "give"
    """
    parts = _did(question)
    return parts[1] if parts else None


def asked_subject(question: str) -> list[str]:
    """The content words of the subject of "What/How/Why did <subject> <verb> ...?" ([] if none).

    asked_subject("What did the British government say about the strikes?") -> ["british", "govern"]
    """
    parts = _did(question)
    return content_words(" ".join(parts[0])) if parts else []


def _did(question: str) -> tuple[list[str], str] | None:
    """(subject words, verb) of "What/How/Why did <subject> <verb> ...?", or None."""
    match = _DID.match(question)
    if not match:
        return None
    words = re.findall(r"[\w’'-]+", match.group(1))
    while words and words[0].lower() in ("the", "a", "an"):
        words = words[1:]
    end = len(words)
    for i, word in enumerate(words):
        low = word.lower()
        if i and (low in _SUBJECT_END or (word[:1].isupper() and words[i - 1][:1].islower())):
            end = i
            break
    if not end:
        return None
    verb = words[end - 1]
    return (words[:end - 1], verb.lower()) if verb[:1].islower() and verb.isalpha() else None


def states_act(question: str, text: str) -> bool:
    """Whether ``text`` holds the act the question asks about, in some form of its very verb.

    "Who killed Hamedani?" is not answered by a sentence about "Hamedani's killing" or his
    "death", only by one that says who killed him (either voice). "What did Lavrov say to
    Kerry?" is not answered by a sentence about Kerry's call that never has anyone say
    anything ("said", "says"), nor by one where somebody else says something: a word of the
    subject must be there too. Other questions: True.
    """
    words = tokens(question)
    if not words:
        return True
    if words[0] in ("who", "whom"):
        verbs = [w for w in words[1:3] if (w.endswith("ed") and len(w) > 4) or w in _IRREGULAR]
        if verbs:
            found = set(tokens(text))
            return any(v in found for v in verbs)
        present = words[1] if len(words) > 1 else ""
        if len(present) > 3 and present.endswith("s") and present not in _AUXILIARY:
            # "Who commands the Liwa al-Haqq group?" needs a command, not 200 of its men killed
            return _holds_verb(present, set(_IRREGULAR_FORMS.get(present[:-1], "").split()), text)
        return True
    parts = _did(question)
    if parts is None:
        return True
    verb = parts[1]
    forms = set(_IRREGULAR_FORMS.get(verb, "").split()) | (_SPEECH if verb in _SPEAK else set())
    return _holds_verb(verb, forms, text) and names_subject(question, text)


def _holds_verb(verb: str, forms: set[str], text: str) -> bool:
    """Whether ``text`` holds ``verb`` by its stem, or one of ``forms`` (those a stemmer cannot reach)."""
    return bool(set(content_words(verb)) & set(content_words(text)) or forms & set(tokens(text)))


def names_subject(question: str, text: str) -> bool:
    """Whether ``text`` names the subject of "What/How/Why did <subject> <verb> ...?" (True if none).

    "What did the British government say ...?" is not answered by what a Syrian general said.
    """
    named = set(asked_subject(question))
    return not named or bool(named & mentions(text))


def names_held(question: str, text: str) -> bool:
    """Whether ``text`` holds every name the question gives: a capitalised word after the first,
    found as a word, the start of one ("Russia" in "Russian") or an acronym.

    "How many Russian cruise missiles crashed in Iraq?" is not answered by missiles that
    "crashed in Iran", however much else of the question the passage holds.
    """
    names = [w for w in re.findall(r"[\w’'-]+", question)[1:] if w[:1].isupper()]
    held = mentions(text)
    for name in content_words(" ".join(names)):
        if not any(word.startswith(name) or name.startswith(word) for word in held if len(word) > 2):
            return False
    return True


def has_measure(question: str, text: str) -> bool:
    """Whether ``text`` states the measure a "how far/close/long/old/much/many" question asks for.

    Stricter than `has_kind`: "How far ...?" wants a distance ("10 kilometres"), "How long ...?"
    a duration ("30-minute"), "How many missiles ...?" a count of missiles ("four Russian
    cruise missiles"), not any number at all.
    """
    return measure_in(question, text) is not None


def asks_measure(question: str) -> bool:
    """'How far/long/many ...?' or 'What is the population of ...?': only a stated measure answers."""
    return bool(_HOW.search(question) or _QUANTITY.match(question))


def measure_in(question: str, text: str) -> str | None:
    """The words of ``text`` that state the measure asked for, or None.

    measure_in("How many missiles crashed?", "US officials said four Russian cruise missiles crashed")
    -> "four Russian cruise missiles"
    """
    quantity = _QUANTITY.match(question)
    if quantity:  # "What is the population of X?" wants a number beside "population"
        return _counted(question, text, set(content_words(quantity.group(1))), before=True)
    match = _HOW.search(question)
    if not match:
        return None
    word = match.group(1).lower()
    if word != "many":
        found = re.search(_MEASURES[word], text, re.IGNORECASE)
        return found.group(0).strip() if found else None
    return _counted(question, text, set(content_words(match.group(2))))  # "How many Russian cruise missiles ..."


# Counts news gives without a figure: "thousands of Iranians".
_ROUGHLY = {"dozens", "hundreds", "thousands", "millions", "scores"}


def _counted(question: str, text: str, counted: set[str], before: bool = False) -> str | None:
    """A number the question does not hold (or "thousands"), followed within three words by one of ``counted``
    ("four Russian cruise missiles"), or, with ``before``, preceded by one ("population of 2 million").

    A plural noun the question does not count ends the search: in "24 hours, Russian aircraft"
    the number counts hours, not aircraft.
    """
    asked = numbers(question)
    words = list(re.finditer(r"\$?\d+(?:[.,]\d+)*|[^\W\d_]+(?:['’-][^\W\d_]+)*", text))

    def counts(word: str) -> bool:
        return bool(counted & set(content_words(word)))

    for i, number in enumerate(words):
        if numbers(number.group()) - asked or number.group().lower() in _ROUGHLY:
            following = []
            for after in words[i + 1:i + 4]:
                word = after.group()
                if not counts(word) and word.islower() and len(word) > 3 and word.endswith("s") \
                        and not word.endswith(("ss", "us", "is")):
                    break
                following.append(after)
            last = [after for after in following if counts(after.group())]
            if last:
                return text[number.start():last[-1].end()]
            first = before and [prior for prior in words[max(i - 4, 0):i] if counts(prior.group())]
            if first:
                return text[first[0].start():number.end()]
    return None


def is_identity(question: str) -> bool:
    """'Who is the X?' or 'What was the name of X?': answered only by a name stated in a passage."""
    return bool(title_words(question) or _NAME_OF.search(question))


def title_words(question: str) -> list[str]:
    """The title asked about: 'Who is the Pentagon spokesman quoted about X?' -> ['pentagon', 'spokesman']."""
    match = _WHO_IS.match(question)
    if not match:
        return []
    words = [w.strip("?,.!") for w in match.group(1).split()]
    kept: list[str] = []
    for i, bare in enumerate(words):
        following = words[i + 1] if i + 1 < len(words) else ""
        ends = bare[:1].islower() and (bare.endswith("ed") or bare in _TITLE_END
                                       or (bare == "for" and not following[:1].isupper()))
        if kept and ends:
            break  # "... spokesman quoted about", "... minister at the talks"; not "Secretary of State for Defence"
        kept.append(bare)
    return content_words(" ".join(kept))


def named_in(title: Sequence[str], sentence: str, share: Callable[[Sequence[str], set[str]], float],
             min_share: float = 0.6) -> str | None:
    """The name a sentence gives a title (`title_words`), from '<title> <Name>' or '<title>, <Name>'.

    named_in(["franc", "defens", "minist"],
             "France’s Defense Minister Jean-Yves Le Drian said ...", share) -> "Jean-Yves Le Drian"

    ``share(title, words)`` measures how much of the title the words before the name hold;
    the title's last word must come right before the name.
    """
    if not title:
        return None
    head = title[-1]
    for match in re.finditer(r"[\w’'-]+", sentence):
        if content_words(match.group()) != [head]:
            continue
        window = sentence[max(0, match.start() - 60):match.end()]
        before = mentions(window)
        if share(title, before) < min_share:
            continue
        name = _NAME_AFTER.match(sentence, match.end())
        if name and _person(name) and not set(content_words(name.group(1))) & set(title):
            return name.group(1)
    return None


def _person(name: re.Match) -> bool:
    """A person's name is two words or more ("Peter Cook"), or one after a rank ("Gen Ayoub");
    a lone capitalised word after a title is usually more title ("Revolutionary Guards Corps")."""
    return len(name.group(1).split()) >= 2 or name.group(0).strip(" ,") != name.group(1)


def mentions(text: str) -> set[str]:
    """What ``text`` names: its content words and the initials of its capitalised runs (`acronyms`)."""
    return set(content_words(text)) | acronyms(text)


def acronyms(text: str) -> set[str]:
    """Initials of each run of capitalised words, so 'NATO' in a question meets the name spelled out.

    acronyms("North Atlantic Treaty Organisation chief") -> {"nato", "at", "ato", "nat", ...}
    """
    words = re.findall(r"[\w’'-]+", text)
    found: set[str] = set()
    start = 0
    for end in range(len(words) + 1):
        if end == len(words) or not words[end][:1].isupper():
            run = [w[0].lower() for w in words[start:end]]
            found |= {"".join(run[i:j]) for i in range(len(run)) for j in range(i + 2, min(len(run), i + 6) + 1)}
            start = end + 1
    return found


def sentences(text: str) -> list[str]:
    """The sentences of a passage (the passage itself when it has none)."""
    return [text[s:e] for s, e in split_sentences(text)] or [text]
