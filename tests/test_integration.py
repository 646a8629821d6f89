"""The real packaged embedder and LLM, for real: facts and structure, never exact wording."""

import json
import re
import subprocess
import sys

import pytest

from rag.evaluate import normalise

from .conftest import ROOT, article, is_span

pytestmark = pytest.mark.slow

LOOKUPS = [  # (question, a pattern only the passages that state the answer match)
    ("Where did the four Russian cruise missiles crash?", r"crashed (en route )?in Iran"),
    ("How many sorties did Russian aircraft carry out in the last 24 hours?", r"88 sorties"),
    ("Who is John Kerry's Russian counterpart?", r"counterpart, Sergei Lavrov"),
    ("How much was the US program to train and equip fighters worth?", r"\$580 million program"),
]
IS_NAMES = re.compile(r"\b(Islamic State|ISIS|ISIL|IS|Daesh)\b")


@pytest.mark.parametrize("question,passage", LOOKUPS)
def test_the_passage_that_states_the_answer_ranks_first(real_rag, question, passage):
    hits = real_rag.retrieve(question)
    assert re.search(passage, hits[0].chunk.text), [h.chunk.text[:80] for h in hits]


@pytest.mark.parametrize("question", ["Who killed Hamedani?", "who kiled hamedany"])
def test_who_killed_hamedani_names_islamic_state_and_cites_it(real_rag, real_index, question):
    answer = real_rag.ask(question)
    assert not answer.abstained
    assert IS_NAMES.search(answer.text), answer.text
    assert any("killed" in c.text and IS_NAMES.search(c.text) for c in answer.citations), answer.citations
    for c in answer.citations:
        assert is_span(article(c.doc_id), c), c
        assert f"[{c.key}]" in answer.text


@pytest.mark.parametrize("question, name, cited", [
    ("Who is France's Defense Minister?", "Le Drian", "Defense Minister Jean-Yves Le Drian"),
    ("Who is the NATO Secretary General mentioned in the news?", "Stoltenberg", "Secretary General Jens Stoltenberg"),
])
def test_who_holds_a_title_is_the_name_the_articles_give_it(real_rag, question, name, cited):
    answer = real_rag.ask(question)
    assert not answer.abstained and name in answer.text, answer.text
    assert answer.timings.completion_tokens == 0  # the model is not asked
    assert any(cited in c.text for c in answer.citations), answer.citations


@pytest.mark.parametrize("question", ["What is the capital of France?", "Who won the 2018 FIFA World Cup?",
                                      # every word is in one passage, but the articles never name him
                                      "Who is the head of the Quds Force?",
                                      # a number is asked for, and the passages about his death give none
                                      "How old was Hamedani when he died?"])
def test_questions_the_articles_do_not_answer_are_abstained(real_rag, question):
    answer = real_rag.ask(question)
    assert answer.abstained and answer.text == "The articles do not say." and not answer.citations


@pytest.mark.parametrize("question", ["How far was Islamic State from Aleppo's northern edge?",
                                      # the "10 kilometres" passage ranks 25th for this wording
                                      "How close to Aleppo did Islamic State get?"])
def test_disagreeing_articles_are_reported_with_both_sides_cited(real_rag, question):
    answer = real_rag.ask(question)
    assert answer.conflict, answer.text
    cited = " ".join(normalise(c.text) for c in answer.citations)
    assert "10 kilometres" in cited and "2 km" in cited
    assert len({c.doc_id for c in answer.citations}) == 2


def test_every_citation_key_was_issued_and_retrieved(real_rag):
    for question in ("Where did the Russian missiles crash?", "Who is the Syrian Army Chief of Staff?",
                     "How close to Aleppo did Islamic State get?"):
        answer = real_rag.ask(question)
        keys = {str(i) for i in range(1, len(answer.hits) + 1)}
        for c in answer.citations:
            assert c.key in keys
            hit = answer.hits[int(c.key) - 1]
            assert (hit.chunk.doc_id, hit.chunk.start, hit.chunk.end) == (c.doc_id, c.start, c.end)


def test_the_llm_really_decodes(real_generator):
    """Guards against a llama.cpp build that crashes on the first decode (native AMX kernels)."""
    from rag.prompts import build_prompt

    prompt = build_prompt("What colour is the sky?", [], 50)
    text = "".join(real_generator.generate(prompt, 8))
    assert text.strip()


def test_the_sentence_that_answers_a_paraphrase_makes_it_likeliest(real_generator):
    """The judge reads: CNN's sentence raises "Which broadcaster ...?" more than sentences about the same missiles."""
    sentences = [
        "The USA official, who spoke on condition of anonymity, said the missiles landed in Iran on Wednesday, "
        "confirming a story first reported by CNN.",
        "US officials said they believed four Russian cruise missiles bound for Syria had crashed en route in Iran.",
        "Russia's defence ministry denied the claim made by the US.",
    ]
    gains = real_generator.gain("Which broadcaster first broke the news that the missiles fell in Iran?", sentences)
    assert gains[0] == max(gains) and gains[0] > 1.0, gains
    assert real_generator.gain("x" * 5000, sentences[:1]) == [0.0]  # too long to judge: no gain, no crash


def test_with_the_judge_on_a_paraphrase_is_answered_from_the_sentence_that_says_it(real_index, real_embedder,
                                                                                   real_generator):
    from rag import RAG

    rag = RAG.open(real_index, embedder=real_embedder, generator=real_generator, likelihood_gain=1.2)
    answer = rag.ask("Which branch of Islam do most Iranians follow?")
    assert not answer.abstained and "Shiite" in answer.text, answer.text
    assert any("Iran is majority Shiite" in c.text for c in answer.citations)
    assert rag.ask("Which hospital treated the wounded from the explosion in the Islamic State stronghold?").abstained


def test_a_paraphrase_is_answered_where_the_draft_and_the_embedder_agree(real_rag):
    answer = real_rag.ask("Did the Western alliance get any heads-up before Moscow's naval missile launch?")
    assert answer.mode == "quoted" and "no advance warning" in answer.text, (answer.draft, answer.text)
    assert any("complete surprise" in c.text for c in answer.citations)
    # the model's draft points at a sentence where a Syrian general, not the British government, speaks
    assert real_rag.ask("What did the British government say about Russia's air strikes?").abstained


def test_both_packaged_models_answer(real_index, real_embedder):
    from rag import RAG

    rag = RAG.open(real_index, embedder=real_embedder)
    for llm in ("smollm2", "gemma3"):
        answer = rag.ask("Where did the four Russian cruise missiles crash?", llm=llm)
        assert "Iran" in answer.text and answer.citations, (llm, answer.text)


def test_cli_ask_json_contract(real_index):
    out = subprocess.run([sys.executable, "-m", "rag.cli", "ask", "Who killed Hamedani?", "--json", "--index",
                          str(real_index)], capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert IS_NAMES.search(data["answer"]) and data["citations"] and not data["abstained"]
    assert data["timings"]["total_ms"] > 0 and data["passages"][0]["text"]
    assert "Traceback" not in out.stderr
