"""Verification: a reader's supported sentence is shown with our key, anything else is quoted or abstained."""

import pytest

from rag.prompts import ABSTAIN
from rag.text import lemmas
from rag.types import Chunk, Hit
from rag.verify import Rules, dated_first, has_kind, idf_table, kind, marks_only, names_held, parse, referred, verify

KILLED = "Gen. Hossein Hamedani, a commander in the Iranian Revolutionary Guards, was killed by ISIS extremists."
MISSILES = "US officials said they believed four Russian cruise missiles bound for Syria had crashed en route in Iran."
THURSDAY = "The Guards said General Hamedani was killed on Thursday night."
CONFIRMED = "Tehran’s military confirmed on Friday that Hamedani had been killed in Aleppo province."
FAR_10 = "The jihadists are now just over 10 kilometres (six miles) from the northern edges of Aleppo."
FAR_2 = "Islamic State are now within 2 km (1 mile) of government-held territory on Aleppo’s northern edge."
FILLER = ["Iran is majority Shiite.", "The Pentagon paused its programme.", "Moscow denied the claim."]


def hit(doc, text, dense=0.7, start=0):
    return Hit(Chunk(f"{doc}:{start}", doc, text, start, start + len(text), text), 0.1, dense, 1.0)


HITS = [hit("a", KILLED, 0.75), hit("b", MISSILES, 0.6, 500), hit("d", THURSDAY, 0.5, 700)] + \
    [hit("c", t, 0.1, 900 + i) for i, t in enumerate(FILLER)]


def run(question, draft, hits=HITS, judge=None, **rules):
    idf, default = idf_table([set(lemmas(h.chunk.text)) for h in hits])
    return verify(question, draft, hits, idf, default, Rules(**rules), check=judge)


@pytest.mark.parametrize("draft, claim", [
    ("Passage 5: Hamedani was killed by ISIS extremists.", "Hamedani was killed by ISIS extremists."),
    ("Hamedani was killed by ISIS extremists (Passage 1).", "Hamedani was killed by ISIS extremists."),
    ("According to passages 1 and 3, Hamedani was killed by ISIS.", "Hamedani was killed by ISIS."),
    ("Hamedani was killed by ISIS [2]. This information is found in Passage 2.", "Hamedani was killed by ISIS."),
    ("Passage 3 indicates that the missiles crashed in Iran [3].", "The missiles crashed in Iran."),
    ("The capital of France is Paris, which is mentioned in Passage 1.", "The capital of France is Paris."),
    ("Answer: ISIS extremists (2)", "ISIS extremists."),
    ("The official mentioned in Passage 1 states that the Syrian army is mobilising [1].",
     "The official states that the Syrian army is mobilising."),
    ("The Guard, according to Passage 2, blamed IS for his death.", "The Guard blamed IS for his death."),
    ("Hamedani was killed by [2] ISIS extremists.", "Hamedani was killed by ISIS extremists."),
    ("Guard commanders deny Iran has fighters in Syria, citing passage 1.", "Guard commanders deny Iran has fighters in Syria."),
])
def test_the_readers_passage_names_and_wrapping_are_stripped(draft, claim):
    assert parse(draft) == (claim, False)


@pytest.mark.parametrize("draft", ["[2]", "The passages do not mention his age.", "Not stated in the passages.", ""])
def test_a_draft_that_declines_or_says_nothing_is_no_claim(draft):
    assert parse(draft)[1]


def test_a_supported_sentence_is_the_readers_own_cited_with_our_key():
    v = run("Who killed Hamedani?", "Passage 4: Hamedani was killed by ISIS extremists [7].")
    assert v.mode == "generated" and not v.abstained
    assert v.text == "Hamedani was killed by ISIS extremists [1]." and [c.key for c in v.citations] == ["1"]
    assert v.citations[0].text == KILLED


def test_the_citation_goes_to_the_passage_that_holds_the_claim_whatever_the_reader_named():
    v = run("Where did the missiles crash?", "The missiles crashed in Iran (Passage 1).")
    assert v.mode == "generated" and [(c.key, c.doc_id) for c in v.citations] == [("2", "b")]


def test_an_irregular_verb_form_is_the_same_word():
    v = run("Who killed Hamedani?", "ISIS extremists struck and killed Hamedani, a commander in the Guards.",
            missing_words=0)
    assert v.mode != "generated"  # "struck" is in no passage
    hits = [hit("a", "The rebels gave up the town to ISIS extremists.", 0.7)]
    assert run("Who did the rebels give the town to?", "The rebels gave the town up to ISIS extremists.", hits,
               missing_words=0).mode == "generated"


def test_a_figure_is_held_whether_written_in_digits_or_words():
    hits = [hit("a", "The jihadists are three kilometres from pro-regime forces in the Sheikh Najjar zone.", 0.7)]
    question = "What distance lies between the militants and the regime loyalists in Sheikh Najjar?"
    assert run(question, "The jihadists are 3 km from the regime forces in Sheikh Najjar.", hits).mode == "generated"
    assert run(question, "The jihadists are 4 km from the regime forces in Sheikh Najjar.", hits).mode != "generated"


@pytest.mark.parametrize("draft", [
    "Hamedani was killed by 300 ISIS fighters.",  # a number no passage holds
    "Hamedani was killed by Hezbollah extremists.",  # a name no passage holds
    "The capital of France is Paris.",
])
def test_a_claim_with_a_name_or_number_no_passage_holds_never_reaches_the_user(draft):
    v = run("Who killed Hamedani?" if "Hamedani" in draft else "What is the capital of France?", draft)
    assert v.mode != "generated"
    assert not any(word in v.text for word in ("300", "Hezbollah", "Paris"))


def test_a_claim_without_the_kind_of_answer_asked_for_is_not_shown():
    v = run("When was Hamedani killed?", "Hamedani was killed by ISIS extremists.")
    assert v.mode != "generated"
    assert run("When was Hamedani killed?", "Hamedani was killed on Thursday night.").mode == "generated"


def test_a_claim_that_only_restates_the_question_is_not_shown_as_an_answer():
    v = run("Which Revolutionary Guards commander was killed by ISIS extremists?",
            "A commander in the Revolutionary Guards was killed by ISIS extremists.")
    assert v.mode == "quoted" and v.text == f"“{KILLED}” [1]"  # every word is held and none answers: the sentence
    # it points at is quoted instead, and none is quoted without the kind of answer asked for
    assert run("When was the commander killed by ISIS extremists?", "The commander was killed by ISIS extremists.",
               [HITS[0]]).abstained
    assert run("Which Revolutionary Guards commander was killed by ISIS extremists?",
               "Gen. Hossein Hamedani was killed by ISIS extremists.").mode == "generated"
    assert run("Was Hamedani killed by ISIS extremists?", "Hamedani was killed by ISIS extremists.").mode == "generated"


def test_a_claim_the_reader_words_its_own_way_is_replaced_by_the_sentence_it_points_at():
    v = run("Who killed Hamedani?", "ISIS extremists murdered the Revolutionary Guards commander Hamedani, sadly.")
    assert v.mode == "quoted" and v.text == f"“{KILLED}” [1]" and "murdered" not in v.text


def test_when_the_reader_declines_only_a_passage_that_carries_the_question_is_quoted():
    v = run("Who killed Hamedani, the commander in the Iranian Revolutionary Guards?", "The passages do not say.")
    assert v.mode == "quoted" and v.citations[0].text == KILLED
    assert run("How many Russian cruise missiles crashed in Iraq?", "Not stated.").abstained  # Iraq is not Iran
    assert run("Who killed Hamedani?", "He died of a heart attack in Tehran.").abstained  # a name no passage holds


def test_a_draft_that_answers_another_kind_of_question_is_read_as_declining():
    hits = [hit("a", KILLED, 0.75), hit("e", CONFIRMED, 0.74, 300), hit("d", THURSDAY, 0.6, 700)]
    v = run("When was Hamedani killed?", CONFIRMED, hits)  # it dates the telling, not the killing
    assert v.mode == "quoted" and v.citations[0].text == THURSDAY
    assert run("When was Hamedani killed?", CONFIRMED, hits[:2]).abstained  # no passage says when


def test_a_name_right_after_the_word_a_question_opens_with_must_be_held():
    # "In" opens the question and is no name; "Iraq" after it is one ("iraq" is also an English word)
    assert names_held("In Iran, how many Russian cruise missiles crashed?", MISSILES)
    assert not names_held("In Iraq, how many Russian cruise missiles crashed?", MISSILES)
    assert run("In Iraq, how many Russian cruise missiles did US officials say had crashed?", "Not stated.").abstained
    assert run("In Iran, how many Russian cruise missiles did US officials say had crashed?", "Not stated.").mode == "quoted"


def test_a_person_named_in_full_is_held_by_the_surname_the_article_uses_after():
    assert referred("When was Gen. Hossein Hamedani killed?", THURSDAY) == {"gen", "hossein", "hamedani"}
    assert names_held("When was Hossein Hamedani killed?", THURSDAY)  # "General" is a title, not a given name
    assert not names_held("When was Ali Hamedani killed?", KILLED)  # the article gives him another name
    assert not referred("What did the Islamic State say?", "The Secretary of State said so.")  # no surname
    assert not referred("What did Russia, Syria and Iran propose?", "Syria agreed.")  # a list, not one name
    # the follow-up's rewrite names him in full; the passage that says when calls him General Hamedani
    hits = [hit("a", KILLED, 0.75), hit("e", CONFIRMED, 0.74, 300), hit("d", THURSDAY, 0.6, 700)]
    v = run("When was Gen. Hossein Hamedani killed?", CONFIRMED, hits)
    assert v.mode == "quoted" and v.citations[0].text == THURSDAY


def test_with_weak_evidence_the_answer_is_the_abstention():
    v = run("Who was Hamedani's doctor?", "Dr. Ali Reza treated him.")
    assert v.abstained and v.text == ABSTAIN and not v.citations
    far = [hit("a", "Russian jets carried out air strikes on areas in western Syria on Saturday.", 0.05)]
    v = run("Which Russian jets?", "Russian jets carried out air strikes.", far)  # every word held, nothing near
    assert v.abstained


def test_the_readers_own_doubt_rejects_a_claim_when_asked():
    draft = "Hamedani was killed by ISIS extremists."
    assert run("Who killed Hamedani?", draft, judge=lambda p, a: 0.2, check=0.5).mode != "generated"
    assert run("Who killed Hamedani?", draft, judge=lambda p, a: 0.9, check=0.5).mode == "generated"


def test_a_sentence_the_check_doubts_gives_way_to_its_passages_sentence_if_the_check_takes_that():
    draft = "ISIS extremists killed him."
    asked = []

    def judge(passage, answer):  # doubts the reader's wording, takes the article's own
        asked.append(answer)
        return 0.9 if answer == KILLED else 0.3

    v = run("Who killed Hamedani?", draft, judge=judge, check=0.5, requote=0.2)
    assert v.mode == "quoted" and v.text == f"“{KILLED}” [1]" and v.citations[0].doc_id == "a"
    assert asked == [draft, KILLED]
    assert run("Who killed Hamedani?", draft, judge=lambda p, a: 0.3, check=0.5).abstained  # doubted both ways
    asked.clear()  # a strong doubt of the reader's sentence is final
    assert run("Who killed Hamedani?", draft, judge=judge, check=0.5, requote=0.4).abstained and asked == [draft]


def test_disagreeing_figures_from_two_articles_are_both_cited():
    hits = [hit("a", FAR_10, 0.6), hit("b", FAR_2, 0.6, 900)]
    v = run("How far is Islamic State from Aleppo's northern edge?", "Within 2 km.", hits)
    assert v.mode == "conflict" and {c.doc_id for c in v.citations} == {"a", "b"}
    assert "differ" in v.text and "10 kilometres" in v.text and "2 km" in v.text


@pytest.mark.parametrize("question, answer, other", [
    ("How many missiles crashed?", "four missiles", "the missiles"),
    ("When was he killed?", "on Thursday night", "in Aleppo"),
    ("On what date was the excerpt released?", "on 9 October 2015", "on Friday"),
    ("Where did the missiles crash?", "they crashed in Iran", "they crashed"),
    ("Why did the army attack?", "because the strikes weakened IS", "the army attacked"),
])
def test_answer_types(question, answer, other):
    assert kind(question) and has_kind(question, answer) and not has_kind(question, other)


def test_a_question_in_parts_asks_what_its_last_question_asks():
    assert kind("How far are the jihadists from Aleppo? And who holds the west?") is None
    assert kind("Who killed him? And how old was he?") == "number"
    assert kind("Where is Britain striking? What about France?") == "place"  # "What about ...?" asks nothing new


def test_a_time_that_dates_only_the_telling_does_not_say_when_the_event_happened():
    assert not has_kind("When was Hamedani killed?", CONFIRMED)
    assert not has_kind("When was Hamedani killed?", "Hamedani was killed in Aleppo, the Guards told reporters on Friday.")
    assert has_kind("When was Hamedani killed?", THURSDAY)  # said, then killed on Thursday night
    assert has_kind("When did Tehran's military confirm that Hamedani had been killed?", CONFIRMED)
    assert has_kind("When was Hamedani's death made public?", CONFIRMED)


def test_for_a_when_question_the_passages_that_state_a_time_are_shown_first():
    hits = [hit("a", KILLED, 0.75), hit("e", CONFIRMED, 0.74, 300), hit("d", THURSDAY, 0.6, 700), HITS[1]]
    assert [h.chunk.text for h in dated_first("When was Hamedani killed?", hits)] == [THURSDAY, KILLED, CONFIRMED,
                                                                                    MISSILES]
    assert dated_first("Who killed Hamedani?", hits) == hits


@pytest.mark.parametrize("draft, only", [("Passage 1", True), ("[2]", True), ("Passages 1 and 3.", True),
                                         ("Passage 1: ISIS.", False), ("ISIS [1]", False), ("", False)])
def test_a_draft_of_nothing_but_passage_numbers_is_noticed(draft, only):
    assert marks_only(draft) is only
