"""Follow-up questions: a question that leans on the conversation is rewritten to stand alone.

"Who killed Hamedani?" then "When was he killed?" is answered as "When was Hamedani killed?",
the condense-question step of LlamaIndex's chat engines, kotaemon and PrivateGPT. The reader
LLM writes the rewrite; the program decides whether to ask it and whether to keep what it wrote:

- a question with nothing to resolve (no pronoun without an antecedent in the question, no
  "there"/"the same"/"else", no fragment like "And how many sorties?") is left alone, with no
  model call;
- a rewrite may only add words that occur in the conversation; one that brings in anything
  else is discarded, and the question is answered as typed.

Only the last few turns are read, within a character budget, so a long or hostile history
costs little.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from .errors import QuestionError
from .prompts import Prompt
from .text import AUXILIARIES, lemma, lemmas, numbers

MAX_TURNS = 3  # earlier turns read for a rewrite
MAX_TURN_CHARS = 600  # of each earlier question or answer
MAX_HISTORY = 1000  # entries accepted at all; more is refused as malformed

REWRITE_SYSTEM = """You rewrite follow-up questions. Given a conversation and a follow-up question, rewrite the \
follow-up so that it can be understood on its own: replace pronouns and vague references (he, it, they, there, that \
day, the group) with the names they stand for, and complete fragments ("And how many crew?", "What about France?") \
with the words they leave out. Use only names and words from the conversation. Keep the follow-up's own words and \
its question word. Reply with the rewritten question only."""
# Worked examples, shown to the model as earlier chat turns: (conversation, follow-up, rewrite). None is about the
# articles; they show the forms: a pronoun for a person, "it" for a thing, "they", a fragment, "What about X?".
REWRITE_EXAMPLES = (
    ("User: Which senator opposed the bridge plan?\nAssistant: Senator Ann Reid opposed it.",
     "What prompted her objection?", "What prompted Senator Ann Reid's objection to the bridge plan?"),
    ("User: What did the mayor announce on Monday?\nAssistant: The mayor announced a new tram line.",
     "What would it replace?", "What would the new tram line replace?"),
    ("User: Which firm did the regulators fine?\nAssistant: Regulators fined Apex Shipping.",
     "How much did they say it paid?", "How much did the regulators say Apex Shipping paid?"),
    ("User: Who founded the bakery on Main Street?\nAssistant: Maria Lopez founded it in 1998.",
     "Where was she born?", "Where was Maria Lopez born?"),
    ("User: How many people did the ferry carry?\nAssistant: The ferry carried 120 people.",
     "And how many crew?", "How many crew did the ferry carry?"),
    ("User: Which team did the city council fund?\nAssistant: The council funded the rowing team.",
     "What about the library?", "Did the city council fund the library?"),
)
UNRESOLVED = "This question follows an earlier one, and there is none: ask it with the names it refers to."
REWRITE_ANSWER_CHARS = 240  # of each earlier answer shown to the rewriter

_PRONOUNS = {"he", "him", "his", "she", "her", "hers", "they", "them", "their", "theirs", "it", "its", "this",
             "that", "these", "those", "there", "then", "same", "else", "former", "latter", "one", "ones", "other"}
_WH = {"who", "whom", "whose", "what", "which", "when", "where", "why", "how"}
_SAME_WH = {"which": "what"}  # "Trained at which sites?" -> "What sites did ... train at?" asks the same
_AUX = AUXILIARIES
_OPENERS = {"and", "but", "also", "or", "so", "plus"}
_LEADS = {"in", "on", "at", "for", "from", "to", "by", "with", "during", "since", "through", "about", "of", "into",
          "after", "before", "under", "over", "against", "between", "within", "toward", "towards", "via"}
_OBJECT_OF = _LEADS - {"after", "before", "since"}  # "of it" points back; "before it will meet" need not
_RELATIVE_AFTER = _WH | _AUX | _LEADS  # "that" after these is a determiner ("to that claim"), not a relative


@dataclass(frozen=True)
class Turn:
    """One earlier exchange: what was asked (as it was read) and what was answered."""

    question: str
    answer: str
    doc_ids: tuple[str, ...] = ()  # the documents its answer cited


def turns(history: Iterable[Any] | None) -> list[Turn]:
    """The conversation so far, oldest first, from `Answer`s or their `to_dict()` dicts; bounded.

    Raises QuestionError, one sentence, for a history that is not a list of such turns.
    """
    if history is None:
        return []
    if isinstance(history, (str, bytes, dict)) or not isinstance(history, Sequence):
        raise QuestionError("The history must be a list of earlier turns, each with a question and an answer.")
    if len(history) > MAX_HISTORY:
        raise QuestionError(f"The history has {len(history):,} turns; at most {MAX_HISTORY:,} are accepted.")
    out = []
    for n, item in enumerate(history[-MAX_TURNS:], len(history) - min(len(history), MAX_TURNS) + 1):
        record = item.to_dict() if hasattr(item, "to_dict") else item
        if not isinstance(record, dict):
            raise QuestionError(f"History turn {n} must be an answer or a mapping with 'question' and 'answer'.")
        question, answer = record.get("read_as") or record.get("question"), record.get("answer")
        if not isinstance(question, str) or not isinstance(answer, str) or not question.strip():
            raise QuestionError(f"History turn {n} needs 'question' and 'answer' text.")
        cited = record.get("citations") or []
        docs = tuple(c.get("doc_id") for c in cited if isinstance(c, dict) and isinstance(c.get("doc_id"), str)) \
            if isinstance(cited, list) else ()
        out.append(Turn(_clip(question), _clip(answer), docs))
    return out


def needs_context(question: str, alone: bool = False) -> bool:
    """Whether a question leans on an earlier turn: a pronoun or reference with nothing before it
    in the question to stand for, a demonstrative ("that claim"), or a fragment.

    A person's pronoun stands for a name before it ("Kerry ... his counterpart"). Asked ``alone``,
    with no conversation to lean on, any noun before it will do ("the secretary of state ... his
    counterpart"): the question is then answered as typed rather than refused.

    needs_context("When was he killed?") -> True
    needs_context("Which group said it was the biggest advance?") -> False   ("it" follows "group")
    needs_context("And how many sorties?") -> True
    """
    raw = re.findall(r"[\w’'-]+", question)
    words = [w.lower().replace("’", "'") for w in raw]
    if not words:
        return False
    if fragment(question):
        return True  # "And how many sorties?"
    start = _start(words)
    head = {start}  # the wh-phrase is what is asked about, never an antecedent: "Which group ...", "How many Iranians ..."
    if words[start:start + 1] and words[start] in ("which", "what", "whose", "how") and len(words) > start + 1 \
            and words[start + 1] not in _AUX:
        head |= {start + 1} | ({start + 2} if words[start + 1] in ("many", "much") else set())
    for i, word in enumerate(words):
        if word not in _PRONOUNS:
            continue
        before, after = words[i - 1] if i else "", words[i + 1:]
        if word == "there" and before in _AUX and after:  # "Is there ...?", "What signs are there that ...?"
            continue
        if word == "it" and after[:1] and after[0] in ("is", "was", "been", "be") and \
                {"whether", "that", "if", "to"} & set(after[1:]):
            continue  # "Has it been established whether ...?": no reference
        if word in ("one", "ones", "other") and after and after[0] not in _AUX:
            continue  # "one official said", "other villages": not a reference
        if word in ("that", "this", "these", "those"):
            if after[:1] and after[0] in _CORPUS:
                continue  # "in these reports": the articles themselves, not an earlier turn
            if _determiner(after, before) and not (word == "this" and after[0] in _TIME):  # "this year" is now
                return True  # "respond to that claim?", "that day"
            continue  # a relative: "the missiles that crashed"
        # the words before it that could stand for it: not the wh-phrase, not a question or function word
        earlier = [j for j in range(1, i) if j not in head and words[j] not in _WH | _AUX | _LEADS]
        if word == "them" and before in _OBJECT_OF and any(
                words[j].endswith("s") and lemma(words[j]) != words[j] for j in earlier):
            continue  # "How did the sources say the strikes had come to them?": a plural noun before it
        if word in ("same", "else", "there", "then", "former", "latter") or \
                (before in _OBJECT_OF and word in ("it", "them", "him", "her", "this", "these", "those")) or \
                (before == "of" and word in ("its", "their", "his", "her")):
            return True  # "the same day", "Who else ...?", "an excerpt of it", "the name of its head"
        people = word in ("he", "him", "his", "she", "her", "hers")
        if word in ("he", "his", "she") and words[start] == "who" and words[start + 1] not in _AUX:
            continue  # "Who said that his side wanted help?": bound to the "who" asked for
        if people and before in _SUBORDINATORS and (
                (words[start] in ("which", "what") and not _AUX & set(words[start:i])) or
                any(words[j - 1] in ("the", "a", "an") and lemma(words[j]) == words[j] for j in earlier)):
            # a clause's pronoun, bound to the asked-for subject or a singular noun before it: "Which minister announced
            # that his country's jets ...?", "... had killed the general while he served ...?"
            continue
        antecedents = [raw[j] for j in earlier if (raw[j][:1].isupper() if people and not alone else bool(lemmas(raw[j])))]
        if not antecedents:
            return True
    return False


def fragment(question: str) -> bool:
    """Whether a question asks nothing of its own: "And the west?", "What about France?", "How soon?",
    "Trained at which sites?"; "When was he killed?" does, of someone it names elsewhere.

    fragment("And from the pro-regime forces?") -> True
    fragment("What happened there that day?") -> False
    """
    words = [w.lower().replace("’", "'") for w in re.findall(r"[\w’'-]+", question)]
    if not words:
        return False
    if words[0] in _OPENERS or " ".join(words[:2]) in ("what about", "how about", "what of"):
        return True
    return _fragment(words[_start(words):])


def _start(words: list[str]) -> int:
    """Where the question proper opens: after a leading preposition or adverb ("In which province
    ...?", "Exactly how many ...?")."""
    return 1 if words[0] in _LEADS or (words[0].endswith("ly") and words[1:2] and words[1] in _WH) else 0


_SUBORDINATORS = {"that", "while", "when", "as", "because", "after", "before", "since", "until", "if", "whether",
                  "though", "although"}
_CORPUS = {"report", "reports", "article", "articles", "news", "story", "stories", "passage", "passages", "source",
           "sources", "documents", "document"}
_TIME = {"day", "night", "week", "month", "year", "time", "morning", "evening", "afternoon", "weekend"}


def _determiner(after: list[str], before: str) -> bool:
    """Whether "that"/"this"/... is a determiner pointing back ("that camp?", "that day"), not a relative."""
    if not after:
        return False  # "... said that?": a pronoun at the end, handled as one
    noun = after[0]
    if noun in _TIME:
        return True
    ends = len(after) == 1 or after[1] in _AUX | _LEADS
    return ends and not noun.endswith(("ed", "ing")) and noun not in _AUX and (before in _RELATIVE_AFTER or len(after) == 1)


def _fragment(words: list[str]) -> bool:
    """A question with no verb of its own: "How many sorties?", "Which villages?", "Fired from how many ships?"."""
    if any(w in _AUX for w in words):
        return False
    if words and words[0] not in _WH:
        # "Trained at which sites?" has no verb after its question word; "The head of which unit
        # praised Hamedani?" does, and stands alone
        asked = next((i for i, w in enumerate(words) if w in _WH), len(words))
        return not _verbs(words[asked + 1:])
    if words[0] in ("who", "whom") and len(words) > 1:
        return False  # "Who killed Hamedani?", "Who heads the group?"
    return not _verbs(words[1:]) and len(words) <= 5


def _verbs(words: list[str]) -> list[str]:
    """The words that look like verb forms: "-ed", "-ing", or an inflection that is no plural ("flew")."""
    return [w for w in words if w.endswith(("ed", "ing")) or (lemma(w) != w and not w.endswith("s"))]


def rewrite_prompt(question: str, history: Sequence[Turn]) -> Prompt:
    """The conversation, as the rewriter reads it: earlier turns, then the follow-up.

    Its instructions and worked examples are the fixed opening, which llama.cpp keeps in its
    cache; each call evaluates only this conversation.
    """
    lines = []
    for turn in history[-2:]:
        answer = re.sub(r"\s*\[\d+\]", "", turn.answer).replace("“", "").replace("”", "")
        lines += [f"User: {turn.question}", f"Assistant: {_clip(answer, REWRITE_ANSWER_CHARS)}"]
    shots = tuple((_rewrite_request(c, f), r) for c, f, r in REWRITE_EXAMPLES)
    return Prompt(REWRITE_SYSTEM, _rewrite_request("\n".join(lines), question), (), shots)


def _rewrite_request(conversation: str, question: str) -> str:
    return f"Conversation:\n{conversation}\n\nFollow-up question: {question}\nRewritten question:"


def echoes(question: str, rewritten: str) -> bool:
    """Whether the rewriter gave the follow-up back unchanged (Qwen does, for about a third of them)."""
    return _line(rewritten).lower() == question.lower()


def insist(prompt: Prompt, question: str) -> Prompt:
    """The rewrite prompt again, barring what made the follow-up lean on the conversation: its
    pronouns and references, and the word a fragment opens with ("Crossing whose airspace?"). For a
    rewriter that echoed it.
    A word is barred everywhere in the reply, so an opening preposition or auxiliary is not.

    insist(p, "What would it provide instead?").avoid -> ("it",)
    insist(p, "And how many died in Aleppo?").avoid -> ("And",)
    """
    words = re.findall(r"[\w’'-]+", question)
    barred = [w for w in words[:1] if w.lower() not in _WH | _LEADS | _AUX] + [w for w in words if w.lower() in _PRONOUNS]
    return replace(prompt, avoid=tuple(dict.fromkeys(barred)))


def _line(rewritten: str) -> str:
    """The rewriter's reply as a question: its first line, without a label or quotes."""
    text = " ".join(rewritten.strip().splitlines()[0].split()) if rewritten.strip() else ""
    return re.sub(r"^(?:rewritten(?: question)?|question|user)\s*:\s*", "", text, flags=re.IGNORECASE).strip(' "“”')


def accept(question: str, rewritten: str, history: Sequence[Turn]) -> str | None:
    """The rewrite if it keeps the follow-up's words and adds only words of the conversation, else None.

    accept("When was he killed?", "When was Hamedani killed?", [Turn("Who killed Hamedani?", "ISIS")])
    -> "When was Hamedani killed?"
    """
    text = _line(rewritten)
    if not text or len(text) > 4 * len(question) + 200 or echoes(question, text):
        return None
    spoken = " ".join(f"{t.question} {t.answer}" for t in history)
    said = set(lemmas(spoken)) | set(lemmas(question))
    added = [w for w in lemmas(text) if w not in said]
    kept = set(lemmas(text))
    lost = [w for w in lemmas(" ".join(w for w in question.split() if w.lower().strip("?,.!") not in _PRONOUNS))
            if w not in kept]  # the follow-up's own words stay: not the earlier question again
    asks = {_SAME_WH.get(w, w) for w in re.findall(r"\w+", question.lower()) if w in _WH}  # "When ...?" stays "when"
    if added or lost or not asks <= {_SAME_WH.get(w, w) for w in re.findall(r"\w+", text.lower())} or \
            not numbers(text) <= numbers(spoken) | numbers(question):
        return None
    opener, _, rest = text.partition(" ")
    if needs_context(rest if opener.lower() in _OPENERS else text):
        return None  # still leans on the conversation: "From the pro-regime forces?" (a leading "And" is style)
    return text if text.endswith("?") else text.rstrip(".") + "?"


def joined(question: str, history: Sequence[Turn]) -> str:
    """A fragment the rewriter could not make stand alone, read after the question it follows:
    "Who controls the east of Aleppo city? And the west?". Only the conversation's words, so it is
    the question as typed with what it leans on; retrieval and the reader get both. (A whole
    question, "When was he killed?", is answered as typed: joined, the reader answers the earlier one.)

    joined("And the west?", [Turn("Who controls the east?", "Rebels.")]) -> "Who controls the east? And the west?"
    """
    if not history:
        return question
    before = history[-1].question.strip()
    return f"{before if before.endswith('?') else before.rstrip('.') + '?'} {question}"


def _clip(text: str, limit: int = MAX_TURN_CHARS) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit].rsplit(" ", 1)[0] + " …"
