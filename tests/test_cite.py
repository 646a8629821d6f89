"""Citation verification: supported claims keep their words, the rest is quoted or abstained."""

import numpy as np

from rag.cite import Thresholds, clean_draft, idf_table, residual_similarity, verify
from rag.prompts import ABSTAIN
from rag.text import content_words
from rag.types import Chunk, Hit

KILLED = "Gen. Hossein Hamedani, a commander in the Iranian Revolutionary Guards, was killed by ISIS extremists."
MISSILES = "US officials said they believed four Russian cruise missiles bound for Syria had crashed en route in Iran."
FAR_10 = "The jihadists are now just over 10 kilometres (six miles) from the northern edges of Aleppo."
FAR_2 = "Islamic State are now within 2 km (1 mile) of government-held territory on Aleppo’s northern edge."
FILLER = ["Iran is majority Shiite.", "The Pentagon paused its programme.", "Moscow denied the claim."]


def hit(doc, text, dense=0.7, start=0):
    return Hit(Chunk(f"{doc}:{start}", doc, text, start, start + len(text), text), 0.1, dense, 1.0)


HITS = [hit("a", KILLED, 0.75), hit("b", MISSILES, 0.6, 500)] + [hit("c", t, 0.1, 900 + i) for i, t in enumerate(FILLER)]


def run(question, draft, hits=HITS, **rules):
    idf, default = idf_table([set(content_words(h.chunk.text)) for h in hits])
    return verify(question, draft, hits, idf, default, Thresholds(**rules))


def test_supported_claim_is_kept_and_cited_with_our_key():
    v = run("Who killed Hamedani?", "Hamedani was killed by ISIS extremists [7].")
    assert not v.abstained and v.mode == "generated"
    assert "ISIS" in v.text and "[1]" in v.text and "[7]" not in v.text
    assert [c.key for c in v.citations] == ["1"] and v.citations[0].text == KILLED


def test_a_short_answer_is_shown_with_the_sentence_that_states_it():
    v = run("Who killed Hamedani?", "ISIS extremists [2]")
    assert v.mode == "generated" and v.text.startswith("ISIS extremists — “") and v.text.endswith("[1]")


def test_claim_is_moved_to_the_passage_that_supports_it():
    v = run("Where did the missiles crash?", "The missiles crashed in Iran [1].")
    assert v.citations[0].doc_id == "b" and v.citations[0].key == "2"


def test_invented_number_is_not_shown_as_supported():
    v = run("Who killed Hamedani?", "Hamedani was killed by 300 ISIS fighters [1].")
    assert v.mode != "generated" and "300" not in v.text


def test_answer_from_memory_is_replaced_by_a_quote_when_a_passage_is_strong():
    v = run("Who killed Hamedani?", "He died of a heart attack in Tehran.", quote_coverage=0.5)
    assert v.mode == "quoted" and v.citations[0].text == KILLED and "heart" not in v.text


def test_answer_from_memory_with_weak_evidence_abstains():
    v = run("Who was Hamedani's doctor?", "Dr. Ali Reza treated him [1].")
    assert v.abstained and v.text == ABSTAIN and not v.citations


def test_no_evidence_means_abstention_whatever_the_model_says():
    hits = [hit("a", "Russian jets carried out air strikes on areas in western Syria on Saturday.", 0.05)]
    v = run("What is the capital of France?", "The capital of France is Paris [1].", hits)
    assert v.abstained and v.text == ABSTAIN and not v.citations


def test_disagreeing_figures_from_two_articles_are_both_cited():
    hits = [hit("a", FAR_10, 0.6), hit("b", FAR_2, 0.6, 900)]
    v = run("How far is Islamic State from Aleppo's northern edge?", "Within 2 km [2].", hits)
    assert v.mode == "conflict" and v.conflict and not v.abstained
    assert {c.doc_id for c in v.citations} == {"a", "b"}
    assert "differ" in v.text and "10 kilometres" in v.text and "2 km" in v.text


def test_same_figure_in_two_articles_is_no_conflict():
    hits = [hit("a", MISSILES, 0.7), hit("b", MISSILES.replace("US officials", "Officials"), 0.7, 50)]
    v = run("How many missiles crashed in Iran?", "Four Russian cruise missiles [1].", hits)
    assert v.mode == "generated"


def test_clean_draft():
    assert clean_draft('Answer: "IS killed him [3]."\nPassage: junk') == "IS killed him."


# -- identity questions and answer types (rag.extract) -----------------------------------
CHIEF = "The Russian air strikes had “weakened” IS, Syrian Army Chief of Staff Gen Ali Abdullah Ayoub said on Thursday."
QUDS = "An Iranian official said Hamedani was a close ally of the head of the Quds Force, which is an overseas arm of the IRGC."
NATO = "North Atlantic Treaty Organisation Secretary General Jens Stoltenberg, meanwhile, said the alliance was ready."
IDENTITY_HITS = [hit("a", QUDS, 0.4), hit("b", CHIEF, 0.4, 300), hit("c", NATO, 0.4, 600), hit("d", KILLED, 0.3, 900)]


def test_who_is_the_title_is_answered_by_the_name_next_to_it():
    v = run("Who is the Syrian Army Chief of Staff?", "The chief of staff is the head of the army.", IDENTITY_HITS)
    assert not v.abstained and v.text.startswith("Ali Abdullah Ayoub — “")
    assert v.citations[0].text == CHIEF and v.citations[0].doc_id == "b"


def test_an_acronym_in_the_question_meets_the_name_spelled_out():
    v = run("Who is the NATO Secretary General mentioned in the news?", "", IDENTITY_HITS)
    assert v.text.startswith("Jens Stoltenberg — ") and v.citations[0].doc_id == "c"


def test_a_title_with_another_country_in_it_is_not_the_one_asked_about():
    france = hit("f", "France’s Defense Minister Jean-Yves Le Drian said French warplanes bombed a camp in Raqqa.", 0.5)
    v = run("Who is Syria's defence minister?", "", [france] + IDENTITY_HITS)
    assert v.abstained, v.text
    v = run("Who is France's defence minister?", "", [france] + IDENTITY_HITS)  # "defence" meets "Defense"
    assert v.text.startswith("Jean-Yves Le Drian — “") and v.citations[0].doc_id == "f"


def test_british_and_american_spellings_of_a_claim_meet():
    denied = hit("d", "Russia’s defence ministry denied the claim made by the US.", 0.6)
    v = run("How did Moscow's defence ministry react to the American claim?",
            "The defense ministry in Russia reacted to the American claim by denying it.", [denied] + HITS[2:])
    assert v.mode == "generated" and "denying" in v.text and v.citations[0].text == denied.chunk.text


def test_a_title_the_articles_never_fill_abstains_even_when_the_model_names_someone():
    # Every word of the question is in the passage, and "Hamedani" is too: a word check would pass.
    v = run("Who is the head of the Quds Force?", "The head of the Quds Force is Hamedani [1].", IDENTITY_HITS)
    assert v.abstained and not v.citations


def test_a_name_before_the_title_or_more_title_after_it_is_not_an_answer():
    # "Hamedani, a commander in the Iranian Revolutionary Guards" does not make him *the* commander,
    # and "Guards Corps" is not a person.
    corps = hit("e", "This follows the death of Hossein Hamedani, a general in the Iranian Revolutionary Guards Corps.")
    v = run("Who is the commander of the Iranian Revolutionary Guards?", "", IDENTITY_HITS + [corps])
    assert v.abstained


def test_name_of_questions_abstain_without_an_apposition():
    v = run("What was the name of the Russian warship that fired the missiles?",
            "The warship was the Kursk [2].",
            [hit("a", "US officials said four Russian cruise missiles fired from a warship in the Caspian Sea had "
                      "crashed in Iran.", 0.7)])
    assert v.abstained


def test_a_supported_claim_of_the_wrong_type_is_not_an_answer():
    # Every word of the claim is in the passage, but "how many" asks for a number it does not give:
    # the passage that holds every word of the question and a number is quoted instead.
    v = run("How many Russian cruise missiles crashed in Iran?", "Russian cruise missiles crashed in Iran [2].",
            quote_coverage=2.0)
    assert v.mode == "quoted" and "four Russian cruise missiles" in v.text


def test_a_passage_with_every_word_of_the_question_is_quoted_even_when_its_vector_is_far():
    plug = hit("p", "Washington said it was pulling the plug on a short-lived $580 million program.", 0.36)
    v = run("What did Washington say it was pulling the plug on?", "", [plug] + HITS[2:])
    assert v.mode == "quoted" and "$580 million" in v.text
    v = run("What did Washington say it was pulling the plug on?", "", [hit("p", plug.chunk.text, 0.2)] + HITS[2:])
    assert v.abstained  # below the relevance floor: the words may be a coincidence


def test_a_quote_for_a_number_question_must_hold_a_number():
    headline = hit("h", "Islamic State Closes In On Syrian City Of Aleppo", 0.8)
    v = run("How close to Aleppo did Islamic State get?", "", [headline] + HITS[2:], quote_coverage=0.3)
    assert v.abstained
    v = run("How close to Aleppo did Islamic State get?", "", [headline, hit("f", FAR_2, 0.8, 50)] + HITS[2:],
            quote_coverage=0.3)
    assert not v.abstained and "2 km" in v.text


def test_a_passage_stating_the_measure_asked_needs_less_of_the_questions_words():
    # "close" is not in the passage, but "2 km" is exactly what "how close" asks for.
    question = "How close to Aleppo did Islamic State get?"
    v = run(question, "", [hit("f", FAR_2, 0.77)] + HITS[2:], quote_coverage=0.95)
    assert v.mode == "quoted" and "2 km" in v.text
    v = run(question, "", [hit("f", FAR_2, 0.77)] + HITS[2:], quote_coverage=0.95, measure_coverage=0.95)
    assert v.abstained


def test_a_disagreeing_figure_further_down_the_list_is_cited_with_the_next_key():
    question = "How close to Aleppo did Islamic State get?"
    shown = [hit("f", FAR_2, 0.77)] + HITS[2:]
    idf, default = idf_table([set(content_words(h.chunk.text)) for h in shown])
    v = verify(question, "", shown, idf, default, Thresholds(), more=[hit("t", FAR_10, 0.51, 40)])
    assert v.conflict and "The sources differ" in v.text
    assert [(c.key, c.doc_id) for c in v.citations] == [("1", "f"), (str(len(shown) + 1), "t")]
    v = verify(question, "", shown, idf, default, Thresholds(), more=[hit("t", FAR_10, 0.2, 40)])
    assert not v.conflict  # a passage that is not about the question is no second source
    # the same with a verified claim from the model, the other side still found below k
    v = verify(question, "Islamic State are now within 2 km of government-held territory [1].", shown, idf, default,
               Thresholds(), more=[hit("t", FAR_10, 0.51, 40)])
    assert v.conflict and [c.doc_id for c in v.citations] == ["f", "t"]


def test_a_phrase_found_in_a_sentence_about_something_else_is_not_an_answer():
    # The passage mentions Hamedani, but not in the sentence that holds the phrase.
    unrelated = hit("u", "Hamedani was buried in Tehran. It was not clear whether the Aleppo offensive was related "
                         "to the missiles.", 0.6)
    v = run("Who killed Hamedani?", "the Aleppo offensive", [hit("a", KILLED, 0.75), unrelated] + HITS[2:],
            quote_coverage=2.0)
    assert v.mode == "quoted" and "offensive" not in v.text and v.citations[0].text == KILLED
    v = run("Who killed Hamedani?", "ISIS extremists", [hit("a", KILLED, 0.75), unrelated] + HITS[2:],
            quote_coverage=2.0)
    assert v.mode == "generated" and v.citations[0].text == KILLED


def test_who_did_it_needs_a_sentence_that_says_who_did_it():
    vague = hit("v", "It was not clear whether Hamedani’s killing was related to that IS offensive.", 0.7)
    v = run("Who killed Hamedani?", "the IS offensive", [vague] + HITS[2:])
    assert v.abstained, v.text  # the only passage talks of his killing but says nobody did it
    v = run("Who killed Hamedani?", "the IS offensive", [vague, hit("a", KILLED, 0.75, 300)] + HITS[2:])
    assert "killed by ISIS" in v.text and v.citations[0].text == KILLED


def test_a_quoted_answer_to_a_how_question_leads_with_the_measure():
    v = run("How many Russian cruise missiles crashed in Iran?", "", quote_coverage=0.3)
    assert v.mode == "quoted" and v.text.startswith("Four Russian cruise missiles — “US officials said they believed four")


CNN = "The USA official said the missiles landed in Iran on Wednesday, confirming a story first reported by CNN."
SHIITE = "Senior Iranian officials have been in Syria for several years as military advisers. Iran is majority Shiite."


def agreeing(cosine):
    """A fake embedder whose two texts have this cosine."""
    return lambda texts: np.array([[1.0, 0.0], [cosine, (1 - cosine ** 2) ** 0.5]])


def judged(question, hits, gains, gain=1.2, similar=0.5):
    """verify with a fake judge that returns ``gains[sentence]`` and records what it was asked."""
    asked = []

    def judge(q, sentences):
        asked.extend(sentences)
        return [gains.get(s, 0.0) for s in sentences]

    idf, default = idf_table([set(content_words(h.chunk.text)) for h in hits])
    return verify(question, "I do not know.", hits, idf, default, Thresholds(likelihood_gain=gain, draft_agreement=False),
                  judge=judge, embed=agreeing(similar)), asked


def test_with_nothing_verified_the_sentence_the_judge_finds_likeliest_is_quoted():
    hits = [hit("a", CNN, 0.52), hit("b", MISSILES, 0.5, 500)]
    v, asked = judged("Which broadcaster first broke the news that the missiles fell in Iran?", hits,
                      {CNN: 2.0, MISSILES: 1.9})
    assert v.mode == "quoted" and "CNN" in v.text and v.citations[0].text == CNN and v.citations[0].key == "1"
    assert set(asked) == {CNN, MISSILES}


def test_the_judge_quotes_one_sentence_of_a_passage_and_cites_the_passage():
    v, _ = judged("Which branch of Islam do most Iranians follow?", [hit("a", SHIITE, 0.52)],
                  {"Iran is majority Shiite.": 1.8})
    assert v.text == "“Iran is majority Shiite.” [1]" and v.citations[0].text == SHIITE


def test_too_small_a_gain_abstains():
    v, _ = judged("Which broadcaster first broke the news that the missiles fell in Iran?", [hit("a", CNN, 0.52)],
                  {CNN: 1.0})
    assert v.abstained and v.text == ABSTAIN


def test_the_judge_is_not_asked_about_sentences_that_cannot_answer():
    camp = "French warplanes bombed a training camp in Raqqa."
    hits = [hit("a", CNN, 0.2), hit("b", camp, 0.6, 500), hit("c", MISSILES, 0.6, 900)]
    _, asked = judged("What kind of site did Paris's jets attack?", hits[:2], {camp: 3.0})
    assert asked == [camp]  # not the passage far from the question (cosine 0.2)
    _, asked = judged("How many people did the missiles kill in Iran?", hits[2:], {MISSILES: 3.0})
    assert asked == []  # "four ... missiles" is not a count of people
    _, asked = judged("Where did the 26 missiles land?", hits[2:], {MISSILES: 3.0})
    assert asked == []  # the passage lacks the question's figure


def test_the_judge_is_off_unless_a_gain_is_set():
    v, asked = judged("Which broadcaster first broke the news that the missiles fell in Iran?", [hit("a", CNN, 0.52)],
                      {CNN: 5.0}, gain=0.0)
    assert v.abstained and asked == []


def test_a_likely_sentence_that_only_shares_the_questions_topic_abstains():
    v, _ = judged("Which broadcaster first broke the news that the missiles fell in Iran?", [hit("a", CNN, 0.52)],
                  {CNN: 3.0}, similar=0.1)
    assert v.abstained


def test_residual_similarity_compares_what_is_asked_with_what_is_added():
    compared = []

    def embed(texts):
        compared.extend(texts)
        return agreeing(0.4)(texts)

    question = "Which hospital treated the wounded from the explosion in the Islamic State stronghold?"
    sentence = "An Islamic State stronghold in the north was rocked by a large explosion."
    assert residual_similarity(question, sentence, embed) == 0.4
    assert compared == ["Which hospital treated the wounded from the in the", "An in the north was rocked by a large"]
    assert residual_similarity("Who killed Hamedani?", "Hamedani was killed by ISIS.", embed) == 1.0  # nothing left to ask


SURPRISE = ("North Atlantic Treaty Organisation diplomatic sources said Moscow had given no advance warning of the "
            "missile strikes which came as a complete surprise.")
SPEED = "The missiles flew over Iran and Iraq. The strikes showed Russia's military capabilities."
HEADS_UP = "Did the Western alliance get any heads-up before Moscow's naval missile launch?"


def nearest_first(order):
    """A fake embedder: the question is [1, 0]; sentences earlier in ``order`` are nearer to it."""
    def embed(texts):
        rows = [[1.0, 0.0]]
        for text in texts[1:]:
            cosine = 0.9 - 0.1 * order.index(text) if text in order else 0.0
            rows.append([cosine, (1 - cosine ** 2) ** 0.5])
        return np.array(rows)
    return embed


def agreed(question, draft, hits, order, **rules):
    idf, default = idf_table([set(content_words(h.chunk.text)) for h in hits])
    return verify(question, draft, hits, idf, default, Thresholds(**rules), embed=nearest_first(order))


def test_the_sentence_both_the_draft_and_the_embedder_point_at_is_quoted():
    hits = [hit("a", SPEED, 0.55), hit("b", SURPRISE, 0.5, 500)]
    draft = "The Western alliance did not get a heads-up. The attack was a complete surprise."
    v = agreed(HEADS_UP, draft, hits, [SURPRISE])
    assert v.mode == "quoted" and v.text == f"“{SURPRISE}” [2]" and v.citations[0].text == SURPRISE


def test_draft_and_embedder_pointing_at_different_sentences_abstain():
    hits = [hit("a", SPEED, 0.55), hit("b", SURPRISE, 0.5, 500)]
    draft = "The Western alliance did not get a heads-up. The attack was a complete surprise."
    assert agreed(HEADS_UP, draft, hits, ["The missiles flew over Iran and Iraq.", SURPRISE]).abstained
    assert agreed(HEADS_UP, "The alliance knew of the Iraq route.", hits, [SURPRISE]).abstained  # draft points elsewhere
    assert agreed(HEADS_UP, "The articles do not say.", hits, [SURPRISE]).abstained
    assert agreed(HEADS_UP, draft, hits, [SURPRISE], draft_agreement=False).abstained


def test_an_agreed_sentence_must_still_be_of_the_type_asked():
    said = "The Russian air strikes had weakened IS, Syrian Army Chief of Staff Gen Ali Abdullah Ayoub said."
    hits = [hit("a", said, 0.56)]
    v = agreed("What did the British government say about Russia's air strikes?",
               "The British government said the air strikes had weakened IS.", hits, [said])
    assert v.abstained  # somebody said it, but not the British government
    v = agreed("How many soldiers did the strikes kill?", "The strikes killed the Army Chief of Staff.", hits, [said])
    assert v.abstained  # no count of soldiers


def test_a_passage_about_another_place_or_without_the_measure_is_not_quoted():
    assert run("How many Russian cruise missiles crashed in Iran?", "", quote_coverage=0.3).mode == "quoted"
    assert run("How many Russian cruise missiles crashed in Iraq?", "", quote_coverage=0.3).abstained
    assert run("What is the range of Russian cruise missiles?", "").abstained  # "four ... missiles" is no range


def test_a_claimed_measure_needs_that_measure_in_its_passage():
    hits = [hit("a", f"Aleppo is Syria's second city. {FAR_2}", 0.6)]
    assert run("What is the population of Aleppo?", "The population of Aleppo is 1.", hits).abstained  # "(1 mile)"
    assert run("How close to Aleppo did Islamic State get?", "Within 2 km.", hits).mode == "generated"
