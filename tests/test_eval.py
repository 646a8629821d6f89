"""The gold set is sound, and `rag eval` runs end to end and scores correctly."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from rag import EvalError
from rag.evaluate import TYPES, load_questions, normalise, score, summarise

from .conftest import ARTICLES, ROOT

GOLD = ROOT / "eval_questions.yaml"


def test_gold_file_is_sound():
    questions = load_questions(GOLD)
    assert len(questions) >= 40
    assert len({q.id for q in questions}) == len(questions)
    by_type = {t: sum(q.type == t for q in questions) for t in TYPES}
    assert by_type["unanswerable"] >= 8 and by_type["paraphrase"] >= 8
    assert by_type["multi"] + by_type["conflict"] >= 5
    docs = {p.stem: normalise(p.read_text(encoding="utf-8")) for p in ARTICLES.iterdir()}
    for q in questions:
        assert q.answerable == (q.type != "unanswerable"), q.id
        if q.answerable:
            assert q.answers and q.evidence, q.id
            for doc, quote in q.evidence:
                assert normalise(quote) in docs[doc], (q.id, quote)


@pytest.mark.parametrize("entry,message", [
    ({"question": "x?", "type": "lookup"}, "missing 'id'"),
    ({"id": "a", "question": "x?", "type": "guess"}, "not one of"),
    ({"id": "a", "question": "x?", "type": "lookup"}, "needs a list of 'answers'"),
    ({"id": "a", "question": "x?", "type": "lookup", "answers": ["y"], "evidence": ["q"]}, "'doc' and 'quote'"),
])
def test_malformed_entries_are_named(tmp_path, entry, message):
    path = tmp_path / "q.yaml"
    path.write_text(yaml.safe_dump({"questions": [entry]}))
    with pytest.raises(EvalError, match=message) as err:
        load_questions(path)
    assert "entry 1" in str(err.value)


def test_duplicate_ids_and_bad_yaml(tmp_path):
    path = tmp_path / "q.yaml"
    path.write_text(yaml.safe_dump({"questions": [{"id": "a", "question": "x", "type": "unanswerable"}] * 2}))
    with pytest.raises(EvalError, match="entry 2.*used twice"):
        load_questions(path)
    path.write_text("questions: [unclosed")
    with pytest.raises(EvalError, match="YAML"):
        load_questions(path)


def test_scoring_counts_what_it_should():
    gold = load_questions(GOLD)
    q = next(g for g in gold if g.answerable)
    doc, quote = q.evidence[0]
    good = {"answer": f"It was {q.answers[0]}.", "abstained": False,
            "citations": [{"key": "1", "doc_id": doc, "start": 0, "end": 1, "text": f"... {quote} ..."}],
            "passages": [{"doc_id": doc, "start": 0, "end": 1, "text": "nothing"},
                         {"doc_id": doc, "start": 0, "end": 1, "text": quote}],
            "timings": {"total_ms": 100.0}}
    bad = {**good, "answer": "The articles do not say.", "abstained": True, "citations": [], "passages": [],
           "timings": {"total_ms": 300.0}}
    s = summarise([score(q, good), score(q, bad)])
    assert s["answer_accuracy"] == 0.5 and s["false_abstentions"] == 1
    assert s["citation_precision"] == 1.0 and s["citation_recall"] == 0.5
    assert s["recall_at_k"] == 0.5 and s["mrr"] == 0.25


@pytest.mark.slow
def test_rag_eval_end_to_end(tmp_path, real_index):
    questions = tmp_path / "q.yaml"
    questions.write_text("""
questions:
- id: t1
  question: Who killed Hamedani?
  type: lookup
  answers: ["Islamic State", "ISIS", "ISIL"]
  evidence:
  - {doc: 000_9b77c177f7e2b0b1, quote: "was killed by ISIS extremists"}
- id: t2
  question: What is the capital of France?
  type: unanswerable
  answerable: false
""")
    out, report = tmp_path / "out.json", tmp_path / "report.html"
    result = subprocess.run([sys.executable, "-m", "rag.cli", "eval", "--questions", str(questions), "--index",
                             str(real_index), "--json", str(out), "--report", str(report)],
                            capture_output=True, text=True, cwd=ROOT, timeout=600)
    assert result.returncode == 0, result.stderr
    assert "answer accuracy" in result.stdout.replace("\n", " ") or "answer" in result.stdout
    records = json.loads(out.read_text())
    assert [r["id"] for r in records] == ["t1", "t2"]
    assert records[0]["scores"]["correct"] and records[0]["scores"]["cited"]
    assert records[1]["abstained"]
    page = Path(report).read_text()
    assert page.count("data:image/png;base64,") >= 3 and "<script" not in page
