"""`rag eval`: run gold questions through the same pipeline as `rag ask` and score them.

Scores (overall and per question type): answer accuracy, abstention accuracy and false
abstentions, citation precision and recall, retrieval recall@k and MRR, latency p50/p95.
The command line (rag/cli.py) prints them; rag/report.py lays them out as a page.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import EvalError
from .figures import percentile

TYPES = ("lookup", "paraphrase", "multi", "conflict", "number", "unanswerable")
DIALOGUE_TYPES = ("pronoun", "ellipsis", "same", "shift", "unanswerable")
FOLLOW_UPS = "follow-ups"  # the summary row of the dialogues' last turns
_QUOTES = str.maketrans({"’": "'", "‘": "'", "“": '"', "”": '"', "\u00a0": " "})


def normalise(text: str) -> str:
    """Fold case, whitespace and typographic quotes so quotes can be matched.

    'Iran’s  “war”' -> 'iran\\'s "war"'
    """
    return " ".join(text.translate(_QUOTES).split()).lower()


@dataclass(frozen=True)
class GoldQuestion:
    id: str
    question: str
    type: str
    answerable: bool = True
    answers: tuple[str, ...] = ()
    evidence: tuple[tuple[str, str], ...] = ()  # (doc_id, quote)
    history: tuple[str, ...] = ()  # a dialogue's earlier questions, asked first (eval_dialogues.yaml)
    standalone: str = ""  # what the last turn of a dialogue means on its own


def _read_yaml(path: Path, what: str, key: str) -> list:
    import yaml

    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise EvalError(f"The {what} file {path} does not exist.") from None
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise EvalError(f"The {what} file {path} cannot be read as YAML: {' '.join(str(exc).split())}") from None
    if not isinstance(raw, dict) or not isinstance(raw.get(key), list) or not raw[key]:
        raise EvalError(f"The {what} file {path} must have a non-empty list under '{key}:'.")
    return raw[key]


def _gold(item: dict, where: str, kind: str, question: str, **extra: Any) -> GoldQuestion:
    """The answer half of an entry: answerable, answers and evidence, checked."""
    answerable = bool(item.get("answerable", kind != "unanswerable"))
    answers = item.get("answers") or []
    evidence = item.get("evidence") or []
    if answerable:
        if not isinstance(answers, list) or not answers or not all(isinstance(a, (str, int, float)) for a in answers):
            raise EvalError(f"{where}: an answerable question needs a list of 'answers'.")
        if not isinstance(evidence, list) or not evidence:
            raise EvalError(f"{where}: an answerable question needs 'evidence' ({{doc, quote}} entries).")
        for ev in evidence:
            if not isinstance(ev, dict) or not isinstance(ev.get("doc"), str) or not isinstance(ev.get("quote"), str):
                raise EvalError(f"{where}: each evidence entry needs 'doc' and 'quote' strings.")
    return GoldQuestion(item["id"], question, kind, answerable, tuple(str(a) for a in answers),
                        tuple((ev["doc"], ev["quote"]) for ev in evidence), **extra)


def _entries(items: list, path: Path, types: Sequence[str]) -> list[tuple[dict, str, str]]:
    """(item, where, type) for each entry, with its id and type checked."""
    out, seen = [], set()
    for n, item in enumerate(items, 1):
        where = f"{path}, entry {n}" + (f" ({item.get('id')})" if isinstance(item, dict) and item.get("id") else "")
        if not isinstance(item, dict):
            raise EvalError(f"{where}: each entry must be a mapping with an id and a type.")
        qid, kind = item.get("id"), item.get("type", types[0])
        if not isinstance(qid, str) or not qid.strip():
            raise EvalError(f"{where}: missing 'id'.")
        if qid in seen:
            raise EvalError(f"{where}: the id {qid} is used twice.")
        seen.add(qid)
        if kind not in types:
            raise EvalError(f"{where}: type {kind!r} is not one of {', '.join(types)}.")
        out.append((item, where, kind))
    return out


def load_questions(path: str | Path) -> list[GoldQuestion]:
    """Parse and check a questions file; EvalError names the entry and the problem."""
    path = Path(path)
    questions = []
    for item, where, kind in _entries(_read_yaml(path, "questions", "questions"), path, TYPES):
        question = item.get("question")
        if not isinstance(question, str) or not question.strip():
            raise EvalError(f"{where}: missing 'question' text.")
        questions.append(_gold(item, where, kind, question))
    return questions


def load_dialogues(path: str | Path) -> list[GoldQuestion]:
    """Parse and check a dialogues file: each entry's last turn, with its earlier turns as ``history``."""
    path = Path(path)
    dialogues = []
    for item, where, kind in _entries(_read_yaml(path, "dialogues", "dialogues"), path, DIALOGUE_TYPES):
        turns = item.get("turns")
        if not isinstance(turns, list) or len(turns) < 2 or not all(isinstance(t, str) and t.strip() for t in turns):
            raise EvalError(f"{where}: 'turns' must be a list of at least two questions.")
        standalone = item.get("standalone", "")
        dialogues.append(_gold(item, where, kind, turns[-1], history=tuple(turns[:-1]),
                               standalone=standalone if isinstance(standalone, str) else ""))
    return dialogues


# -- scoring ---------------------------------------------------------------------------------
def _has_quote(text: str, gold: GoldQuestion) -> bool:
    norm = normalise(text)
    return any(normalise(q) in norm for _, q in gold.evidence)


def _has_alias(text: str, gold: GoldQuestion) -> bool:
    """Whether an answer names one of the gold answers, British and American spellings alike
    ("three kilometers" names "three kilometres": the reader writes its own words)."""
    norm = _american(normalise(text))
    return any(re.search(r"(?<!\w)" + re.escape(_american(normalise(a))) + r"(?!\w)", norm) for a in gold.answers)


def _american(text: str) -> str:
    from breame.data.spelling_constants import BRITISH_ENGLISH_SPELLINGS

    return re.sub(r"[a-z]+", lambda m: BRITISH_ENGLISH_SPELLINGS.get(m.group(), m.group()), text)


@dataclass
class Scored:
    """One question's record (the JSON contract plus id) and its scores."""

    gold: GoldQuestion
    record: dict[str, Any]
    scores: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """The record `rag eval --json` writes: the question's JSON contract, its id and its scores."""
        return {**self.record, "scores": self.scores}

    def failed(self) -> bool:
        s = self.scores
        if not self.gold.answerable:
            return not s.get("abstained_ok", True)
        return not (s.get("correct", True) and s.get("cited", True) and s.get("recall_at_k", True))


def score(gold: GoldQuestion, record: dict[str, Any], retrieval_only: bool = False, k: int | None = None) -> Scored:
    # A disagreeing figure found below the top k is appended to the passages; recall@k ignores it.
    passages = record.get("passages", [])[:k]
    ranks = [i for i, p in enumerate(passages, 1) if _has_quote(p["text"], gold)]
    scores: dict[str, Any] = {"latency_ms": record["timings"]["total_ms"]}
    if gold.answerable:
        scores["recall_at_k"] = bool(ranks)
        scores["rr"] = 1.0 / ranks[0] if ranks else 0.0
    if not retrieval_only:
        cites = record.get("citations", [])
        good = [_has_quote(c["text"], gold) for c in cites] if gold.answerable else [False] * len(cites)
        scores["citations"] = len(cites)
        scores["good_citations"] = sum(good)
        if gold.answerable:
            scores["correct"] = not record["abstained"] and _has_alias(record["answer"], gold)
            scores["false_abstention"] = bool(record["abstained"])
            scores["cited"] = any(good)
        else:
            scores["abstained_ok"] = bool(record["abstained"])
    return Scored(gold, {"id": gold.id, **record}, scores)


def summarise(results: list[Scored]) -> dict[str, float | int | None]:
    """The metrics over a group of scored questions (None where a metric has no questions)."""
    ans = [r for r in results if r.gold.answerable]
    una = [r for r in results if not r.gold.answerable]
    lat = [r.scores["latency_ms"] for r in results]

    def mean(values: list[float]) -> float | None:
        return sum(values) / len(values) if values else None

    out: dict[str, float | int | None] = {"questions": len(results)}
    if any("correct" in r.scores or "abstained_ok" in r.scores for r in results):
        cites = sum(r.scores["citations"] for r in results)
        out.update({
            "answer_accuracy": mean([float(r.scores["correct"]) for r in ans]),
            "abstention_accuracy": mean([float(r.scores["abstained_ok"]) for r in una]),
            "false_abstentions": sum(r.scores["false_abstention"] for r in ans),
            "citation_precision": sum(r.scores["good_citations"] for r in results) / cites if cites else None,
            "citation_recall": mean([float(r.scores["cited"]) for r in ans]),
        })
    out.update({
        "recall_at_k": mean([float(r.scores["recall_at_k"]) for r in ans]),
        "mrr": mean([r.scores["rr"] for r in ans]),
        "latency_p50_ms": percentile(lat, 50) if lat else 0.0,
        "latency_p95_ms": percentile(lat, 95) if lat else 0.0,
    })
    return out


def summary_table(results: list[Scored]) -> dict[str, dict[str, Any]]:
    """{"all": metrics, "<type>": metrics, ..., "follow-ups": metrics} for the types present.

    The dialogues' last turns are their own row, apart from "all" (the single questions).
    """
    single = [r for r in results if not r.gold.history]
    follow = [r for r in results if r.gold.history]
    table = {"all": summarise(single)} if single else {}
    for kind in TYPES:
        group = [r for r in single if r.gold.type == kind]
        if group:
            table[kind] = summarise(group)
    if follow:
        table[FOLLOW_UPS] = summarise(follow)
    return table


def rewritten_standalone(rag, questions: list[GoldQuestion], earlier: str = "Who is John Kerry's Russian counterpart?"
                         ) -> list[tuple[str, str]]:
    """The gold questions that a conversation would rewrite, asked after an unrelated earlier turn:
    [(question, read as)], where read as is neither the question nor its spelling fixed. Should be []."""
    history = [{"question": earlier, "answer": "Sergei Lavrov [1]."}]
    out = []
    for gold in questions:
        if gold.history:
            continue
        read = rag.standalone(gold.question, history)
        if read not in (gold.question, rag.read(gold.question)):
            out.append((gold.question, read))
    return out


# -- running ---------------------------------------------------------------------------------
def evaluate(rag, questions: list[GoldQuestion], k: int | None = None, llm: str | None = None,
             retrieval_only: bool = False, progress=None) -> list[Scored]:
    """Run every question through `rag` (the same `RAG.ask` the CLI uses) and score it."""
    import time

    results = []
    for i, gold in enumerate(questions):
        if progress:
            progress(i, len(questions), gold.id)
        if gold.history:  # a dialogue: its earlier turns are asked first, their answers are the history
            history: list = []
            for earlier in gold.history:
                history.append(rag.ask(earlier, k, llm, history=history))
            record = rag.ask(gold.question, k, llm, history=history).to_dict()
        elif retrieval_only:
            started = time.perf_counter()
            hits = rag.retrieve(gold.question, k)
            ms = (time.perf_counter() - started) * 1000
            record = {"question": gold.question, "answer": "", "abstained": False, "citations": [],
                      "passages": [{"doc_id": h.chunk.doc_id, "start": h.chunk.start, "end": h.chunk.end,
                                    "text": h.chunk.text, "score": h.score} for h in hits],
                      "timings": {"retrieve_ms": ms, "generate_ms": 0, "total_ms": ms,
                                  "prompt_tokens": 0, "completion_tokens": 0}}
        else:
            record = rag.ask(gold.question, k, llm).to_dict()
        results.append(score(gold, record, retrieval_only and not gold.history, k or rag.config.k))
    if progress:
        progress(len(questions), len(questions), "done")
    return results
