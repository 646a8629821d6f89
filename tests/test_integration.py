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


def test_a_barred_word_never_opens_the_reply(real_generator):
    """The retry for a reader that answered only "Passage 1" bars that word, split in tokens or not."""
    from rag.prompts import Prompt

    ask = Prompt("You repeat what you are told.", "Reply with exactly these words: Passage 1 says so.", ())
    assert "".join(real_generator.generate(ask, 8)).strip().startswith("Passage")  # the model would say it
    barred = "".join(real_generator.generate(Prompt(ask.system, ask.user, (), avoid=("Passage",)), 8))
    assert barred.strip() and not barred.strip().lower().startswith("passage"), barred


def test_the_readers_check_says_yes_to_the_passages_answer_and_no_to_an_invented_one(real_generator):
    from rag.config import Config

    passage = "Gen. Hossein Hamedani, a commander in the Iranian Revolutionary Guards, was killed by ISIS extremists."
    true = real_generator.check("Who killed Hamedani?", passage, "Hamedani was killed by ISIS extremists.")
    invented = real_generator.check("Who killed Hamedani?", passage, "Hamedani was killed by the French Navy.")
    unanswered = real_generator.check("Who is the head of the Quds Force?", passage, "Hossein Hamedani heads it.")
    assert true >= Config.check > max(invented, unanswered), (true, invented, unanswered)


def test_a_checks_figure_does_not_depend_on_what_was_checked_before(real_generator):
    """The two checks share one context and its evaluated passage and question; whatever it held before, the same
    (question, passage, answer) gets the same figure (the old code's moved: 0.9041, then 0.9080)."""
    passage = "Gen. Hossein Hamedani, a commander in the Iranian Revolutionary Guards, was killed by ISIS extremists."
    other = "France's Defense Minister Jean-Yves Le Drian said French warplanes bombed a training camp in Raqqa."
    question, answer = "Who killed Hamedani?", "Hamedani was killed by ISIS extremists."
    first = real_generator.check(question, passage, answer)
    real_generator.check("What did French warplanes bomb?", other, "A training camp in Raqqa.")
    wrong = real_generator.check(question, passage, "Hamedani was killed by the French Navy.")
    assert real_generator.check(question, passage, answer) == first > wrong, (first, wrong)


def test_a_paraphrase_is_answered_from_the_sentence_that_says_it(real_rag):
    answer = real_rag.ask("Which branch of Islam do most Iranians follow?")
    assert not answer.abstained and "Shiite" in answer.text, answer.text
    assert any("Iran is majority Shiite" in c.text for c in answer.citations)
    answer = real_rag.ask("Did the Western alliance get any heads-up before Moscow's naval missile launch?")
    assert not answer.abstained and "no advance warning" in answer.text, (answer.draft, answer.text)
    assert any("no advance warning" in c.text for c in answer.citations)


def test_a_right_sentence_the_check_doubts_is_shown_as_its_articles_sentence(real_rag):
    # the reader's "British forces strike Islamic State fighters in Iraq, but not Syria." gets about 0.70 from the
    # check, under its 0.75; the article's own sentence behind it gets about 0.85 (with RAG_REQUOTE=1: abstained)
    answer = real_rag.ask("In which country do British forces strike Islamic State fighters, while staying out of Syria?")
    assert answer.mode == "quoted" and "Iraq" in answer.text, (answer.draft, answer.text)
    assert answer.text.startswith("“The British are part of the coalition") and answer.text.endswith("[1]")
    assert answer.citations and "striking Islamic State fighters in Iraq" in answer.citations[0].text


@pytest.mark.parametrize("question", [
    "Which hospital treated the wounded from the explosion in the Islamic State stronghold?",
    # the passages quote a Syrian general about the strikes, never the British government
    "What did the British government say about Russia's air strikes?",
])
def test_a_question_about_something_the_passages_only_touch_is_abstained(real_rag, question):
    answer = real_rag.ask(question)
    assert answer.abstained, (answer.draft, answer.text)


def test_the_other_packaged_readers_answer_or_abstain_never_uncited(real_index, real_embedder):
    from rag import RAG

    rag = RAG.open(real_index, embedder=real_embedder, check=0.0)  # the check's threshold is the 1.5B's
    answer = rag.ask("Where did the four Russian cruise missiles crash?", llm="qwen0.5b")
    assert "Iran" in answer.text and answer.citations, answer.text
    for llm in ("smollm2", "gemma3"):  # tiny models: often no usable draft, but whatever is said is cited
        answer = rag.ask("Where did the four Russian cruise missiles crash?", llm=llm)
        assert answer.timings.completion_tokens > 0, llm  # the model really decoded
        assert answer.abstained or ("Iran" in answer.text and answer.citations), (llm, answer.text)


def test_cli_ask_json_contract(real_index):
    out = subprocess.run([sys.executable, "-m", "rag.cli", "ask", "Who killed Hamedani?", "--json", "--index",
                          str(real_index)], capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert IS_NAMES.search(data["answer"]) and data["citations"] and not data["abstained"]
    assert data["timings"]["total_ms"] > 0 and data["passages"][0]["text"]
    assert "Traceback" not in out.stderr


def test_a_follow_up_is_rewritten_with_the_conversation_and_still_verified(real_rag):
    first = real_rag.ask("Who killed Hamedani?")
    follow = real_rag.ask("When was he killed?", history=[first])
    assert "Hamedani" in follow.read_as and "killed" in follow.read_as, follow.read_as
    # "Tehran's military confirmed on Friday that Hamedani had been killed" dates the telling: it is never the answer
    # and the rewrite names him in full, while the passage that says when calls him "General Hamedani"
    assert "Friday" not in follow.text and "Thursday" in follow.text, (follow.read_as, follow.draft, follow.text)
    assert any("Thursday" in c.text for c in follow.citations), follow.text
    # asked with the name the articles use, the passage that says when is shown first, and answered and cited
    when = real_rag.ask("When was Hamedani killed?")
    assert "Thursday" in when.text and any("Thursday" in c.text for c in when.citations), (when.draft, when.text)
    # the rewritten question is verified like any other: the articles never give his age
    older = real_rag.ask("How old was he?", history=[first])
    assert "Hamedani" in older.read_as and older.abstained, (older.read_as, older.text)
    # a question that stands alone is answered as typed, after any earlier turn, with no rewrite
    alone = real_rag.ask("How many sorties did Russian aircraft fly in the last 24 hours?", history=[first])
    assert alone.read_as == "" and alone.timings.rewrite_ms < 100 and "88" in alone.text, alone.text
    # the rewriter's opening lives in a second context: answering after it gives the same greedy draft
    assert real_rag.ask("Who killed Hamedani?").draft == first.draft


def test_a_saved_opening_gives_what_evaluating_it_gives_and_a_damaged_one_is_evaluated_again(tmp_path, monkeypatch):
    """The checks' and the rewriter's openings are kept in `states_dir` between processes: loading one must
    give the same check and the same greedy rewrite as evaluating it, and a damaged file is only re-evaluated."""
    from rag import conversation
    from rag.generate import LlamaGenerator
    from rag.models import DEFAULT_LLM

    passage = "Gen. Hossein Hamedani, a commander in the Iranian Revolutionary Guards, was killed by ISIS extremists."
    rewrite = conversation.rewrite_prompt("When was he killed?", [])

    def run() -> tuple[float, str, list[bool]]:
        generator = LlamaGenerator(DEFAULT_LLM, check_examples=True)
        generator.states_dir = tmp_path / "states"
        loaded: list[bool] = []
        real = LlamaGenerator._load_state

        def spy(llm, path, opening):
            loaded.append(real(llm, path, opening))
            return loaded[-1]

        monkeypatch.setattr(LlamaGenerator, "_load_state", staticmethod(spy))
        value = generator.check("Who killed Hamedani?", passage, "ISIS extremists killed him.")
        return value, "".join(generator.generate(rewrite, 24)), loaded

    first, draft, loaded = run()
    assert not loaded and len(list((tmp_path / "states").glob("*.state"))) >= 3  # two checks and the rewriter's
    again, draft_again, loaded = run()
    assert loaded and all(loaded) and (again, draft_again) == (first, draft)
    for state in (tmp_path / "states").glob("*.state"):
        state.write_bytes(state.read_bytes()[: state.stat().st_size // 2])
    damaged, draft_damaged, loaded = run()
    assert loaded and not any(loaded) and (damaged, draft_damaged) == (first, draft)
