"""Citation verification: supported drafts keep their words, the rest is quoted or abstained."""

from rag.cite import clean_draft, idf_table, verify
from rag.prompts import ABSTAIN
from rag.text import content_words
from rag.types import Chunk, Hit

KILLED = "Gen. Hossein Hamedani, a commander in the Iranian Revolutionary Guards, was killed by ISIS extremists."
MISSILES = "US officials said they believed four Russian cruise missiles bound for Syria had crashed en route in Iran."
FAR_10 = "The jihadists are now just over 10 kilometres (six miles) from the northern edges of the city."
FAR_2 = "Islamic State are now within 2 km (1 mile) of government-held territory on Aleppo’s northern edge."
TITLES = {"a": "IS advances on Syria’s Aleppo", "b": "ISIL kills Top Iranian Commander In Syria"}


def hit(doc, text, dense=0.7, start=0):
    return Hit(Chunk(f"{doc}:{start}", doc, text, start, start + len(text), text), 0.1, dense, 1.0)


HITS = [hit("a", KILLED, 0.75), hit("b", MISSILES, 0.3, 500)]


def run(question, draft, hits=HITS):
    idf, default = idf_table([set(content_words(h.chunk.text)) for h in hits])
    return verify(question, draft, hits, TITLES, idf, default)


def test_supported_draft_is_kept_and_cited_with_our_key():
    v = run("Who killed Hamedani?", "Hamedani was killed by ISIS extremists [7].")
    assert not v.abstained and v.mode == "generated"
    assert "ISIS" in v.text and "[1]" in v.text and "[7]" not in v.text
    assert [c.key for c in v.citations] == ["1"] and v.citations[0].text == KILLED


def test_claim_moved_to_the_passage_that_supports_it():
    v = run("Where did the missiles crash?", "The missiles crashed in Iran [1].")
    assert v.citations[0].doc_id == "b" and v.citations[0].key == "2"


def test_invented_number_is_not_shown_as_supported():
    v = run("Who killed Hamedani?", "Hamedani was killed by 300 ISIS fighters [1].")
    assert v.mode == "quoted"
    assert "300" not in v.text and KILLED.split(",")[0] in v.text


def test_answer_from_memory_falls_back_to_the_best_passage():
    v = run("Who killed Hamedani?", "He died of a heart attack in Tehran.")
    assert v.mode == "quoted" and v.citations[0].text == KILLED


def test_no_evidence_means_abstention_whatever_the_model_says():
    hits = [hit("a", "Russian jets carried out air strikes on areas in western Syria on Saturday.", 0.05)]
    v = run("What is the capital of France?", "The capital of France is Paris [1].", hits)
    assert v.abstained and v.text == ABSTAIN and not v.citations


def test_disagreeing_figures_from_two_articles_are_both_cited():
    hits = [hit("a", FAR_10, 0.6), hit("b", FAR_2, 0.6, 900)]
    v = run("How far is Islamic State from Aleppo?", "Islamic State is within 2 km of Aleppo [2].", hits)
    assert v.mode == "conflict" and v.conflict and not v.abstained
    assert {c.doc_id for c in v.citations} == {"a", "b"}
    assert "differ" in v.text and "10 kilometres" in v.text and "2 km" in v.text


def test_clean_draft():
    assert clean_draft('Answer: "IS killed him [3]."') == "IS killed him."
