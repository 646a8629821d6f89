"""Answer types and the identity rule, on sentences from the articles."""

import pytest

from rag.extract import (
    acronyms,
    asked_subject,
    asked_verb,
    has_kind,
    has_measure,
    is_identity,
    kind,
    measure_in,
    named_in,
    names_held,
    states_act,
    title_words,
)


def share(title, words):
    return sum(w in words for w in title) / len(title)


@pytest.mark.parametrize("question, expected", [
    ("Who killed Hamedani?", "agent"),
    ("How many missiles crashed?", "number"),
    ("How old was Hamedani?", "number"),
    ("On what day did the missiles land?", "date"),
    ("When did IS seize the villages?", "date"),
    ("Where did the missiles crash?", "place"),
    ("Which villages did IS seize?", None),
    ("What is the population of Aleppo?", "number"),
    ("What was the cost of the programme?", "number"),
    ("What is the capital of France?", None),
])
def test_kind(question, expected):
    assert kind(question) == expected


def test_has_kind_wants_a_new_number_or_a_date():
    assert has_kind("How many of the 26 missiles crashed?", "four of them crashed")
    assert not has_kind("How many of the 26 missiles crashed?", "26 missiles were fired")
    assert has_kind("On what day did they land?", "They landed on Wednesday.")
    assert not has_kind("On what day did they land?", "They landed in Iran.")
    assert has_kind("Which villages did IS seize?", "anything at all")


@pytest.mark.parametrize("question, verb", [
    ("What did Lavrov say to Kerry during their call?", "say"),
    ("What weapons did the CIA give the rebels?", "give"),
    ("How did the Syrian army respond to the explosion in the Islamic State stronghold?", "respond"),
    ("What did the Observatory call IS's gains near Aleppo?", "call"),
    ("What has Tehran's military long claimed about its presence in Syria?", "claimed"),
    ("Why did Iran allow the Russian missiles to cross its airspace?", "allow"),
    ("How many sorties did Russian aircraft fly?", None),
    ("What post was Hamedani given in 2005?", None),
])
def test_asked_verb(question, verb):
    assert asked_verb(question) == verb


def test_asked_subject():
    assert asked_subject("What did the British government say about the strikes?") == ["british", "govern"]
    assert asked_subject("What has Tehran's military long claimed about its presence?") == ["tehran", "militari", "long"]
    assert asked_subject("How many sorties did Russian aircraft fly?") == []


def test_where_wants_a_new_place_beside_the_act_asked_about():
    fired = "four Russian cruise missiles fired from a warship in the Caspian Sea had crashed in Iran"
    assert not has_kind("Where in Iran did the Russian cruise missiles crash?", fired)
    assert has_kind("Where did the missiles crash?", fired)
    assert has_kind("Where was the warship?", "the missiles were fired from a warship in the Caspian Sea")
    assert has_kind("Where did Hamedani die?", "Hamedani had been killed in Aleppo province")
    assert not has_kind("Where did Hamedani die?", "Hamedani had been killed.")


def test_what_type_of_wants_the_noun_qualified():
    assert not has_kind("What type of warship fired the missiles?", "missiles fired from a warship in the Caspian Sea")
    assert has_kind("What type of warship fired the missiles?", "missiles fired from a Gepard-class warship")
    assert has_kind("What kind of site did Paris's jets attack?", "French warplanes bombed a training camp")


def test_a_question_asking_for_a_date_or_year_is_not_answered_by_a_weekday():
    assert not has_kind("On what date did the big attack begin?", "the army chief said on Thursday")
    assert has_kind("On what date did the big attack begin?", "the attack began on October 7")
    assert not has_kind("In what year was he promoted?", "He was promoted on Friday.")
    assert has_kind("In what year was he promoted?", "He was made deputy chief commander in 2005.")
    assert has_kind("When did they land?", "They landed on Wednesday.")


@pytest.mark.parametrize("question, title", [
    ("Who is the Pentagon spokesman quoted about the train-and-equip programme?", ["pentagon", "spokesman"]),
    ("Who is Britain's Secretary of State for Defence?", ["britain", "secretari", "state", "defens"]),
    ("Who was the U.S. Secretary of Defense at the London press conference?", ["u", "secretari", "defens"]),
    ("Who killed Hamedani?", []),
])
def test_title_words(question, title):
    assert title_words(question) == title


def test_identity_questions():
    assert is_identity("Who is France's Defense Minister?")
    assert is_identity("What was the name of the Russian warship?")
    assert not is_identity("Who killed Hamedani?")
    assert not is_identity("What did the Pentagon say?")


@pytest.mark.parametrize("question, sentence, name", [
    ("Who is France's Defense Minister?",
     "France’s Defense Minister Jean-Yves Le Drian said French warplanes bombed a training camp.", "Jean-Yves Le Drian"),
    ("Who is the US secretary of state?",
     "The USA secretary of state, John Kerry, had a 30-minute telephone call.", "John Kerry"),
    ("Who is the Russian Defense Ministry spokesman?",
     "“The positions were hit,” Russian Defense Ministry spokesman Maj. Gen. Igor Konashenkov told reporters.",
     "Igor Konashenkov"),
    ("Who is the Pentagon spokesman?", "“They hit the target”, said spokesman Gen Igor Konashenkov.", None),
    ("Who is the head of the Quds Force?", "He was a close ally of the head of the Quds Force, which is an arm.", None),
])
def test_named_in(question, sentence, name):
    assert named_in(title_words(question), sentence, share) == name


def test_acronyms():
    assert "nato" in acronyms("North Atlantic Treaty Organisation Secretary General")
    assert "nato" not in acronyms("north Atlantic treaty Organisation")


@pytest.mark.parametrize("question, text, expected", [
    ("How close to Aleppo did Islamic State get?", "IS is now within 2 km (1 mile) of government-held territory", True),
    ("How close to Aleppo did Islamic State get?", "IS seized six villages north of Aleppo", False),
    ("How long was Kerry's phone call with Lavrov?", "Kerry had a 30-minute telephone call with Lavrov", True),
    ("How many Russian cruise missiles crashed?", "officials said four Russian cruise missiles fired", True),
    ("How many Russian cruise missiles crashed?", "four ships fired 26 missiles", True),
    # the number counts hours and sorties, not jets
    ("How many Russian jets violated Turkey's airspace?", "In the last 24 hours, Russian aircraft have carried "
     "out 88 sorties", False),
    ("How many British jets are striking IS?", "The British are striking IS fighters in Iraq in 2015", False),
    ("How old was Hamedani when he died?", "a veteran of the 1980-88 Iran-Iraq war", False),
    ("How old was Hamedani when he died?", "Hamedani, 65 years old, was killed", True),
    ("How much does each missile cost?", "26 cruise missiles were launched", False),
    ("How much was the program?", "a $580 million program", True),
    ("Who killed Hamedani?", "killed by ISIS in 2015", False),
    ("What is the population of Aleppo?", "Aleppo, a city with a population of 2 million, is divided", True),
    ("What is the population of Aleppo?", "Islamic State are now within 2 km of Aleppo", False),
])
def test_has_measure(question, text, expected):
    assert has_measure(question, text) is expected


@pytest.mark.parametrize("question, text, expected", [
    ("Who killed Hamedani?", "Hamedani was killed by ISIS extremists.", True),
    ("Who killed Hamedani?", "ISIS militants killed Hamedani near Aleppo.", True),
    ("Who killed Hamedani?", "It was not clear whether Hamedani's killing was related to that IS offensive.", False),
    ("Who replaced Hamedani as commander?", "This follows the death of Hossein Hamedani, a general.", False),
    ("Who won the 2018 FIFA World Cup?", "Russia won the vote.", True),
    ("Who is the head of the Quds Force?", "anything", True),
    ("Which villages did IS seize?", "anything", True),
    ("What did Lavrov say to Kerry during their call?", "Kerry had a 30-minute call with Sergei Lavrov", False),
    ("What did Washington say it was pulling the plug on?", "Washington said it was pulling the plug", True),
    ("What did Hamedani boast that Iran had created?", "Hamedani’s boasts that Iran had created", True),
    ("What weapons did the CIA give the rebels?", "CIA-backed rebels are under Russian bombardment", False),
    ("What weapons did the CIA give the rebels?", "the CIA has given the rebels anti-tank missiles", True),
    ("How did the Syrian army respond to the explosion?", "an IS stronghold was rocked by an explosion", False),
    ("How many sorties did Russian aircraft fly?", "anything", True),
    # a present-tense act too: commanding, not being the group some men were killed in
    ("Who commands the Liwa al-Haqq group?", "About 200 insurgents were killed in an attack on the Liwa al-Haqq "
     "group in Raqqa province", False),
    ("Who commands the Liwa al-Haqq group?", "The Liwa al-Haqq group is commanded by Abu Omar", True),
    ("Who leads the offensive?", "General X led the offensive", True),
    # any reported speech states a verb of speech
    ("How did the Pentagon describe its training effort?", "The Pentagon said it was “pausing” its programme", True),
    ("What did Obama say about Putin?", "Obama suggested that the airstrikes are a sign of Putin's weakness", True),
    ("What did Russia's defence ministry say?", "Russia’s defence ministry denied the claim made by the US.", True),
    ("What did the Hurriyet newspaper's editor say about NATO?", "The comments, which were published Thursday in the "
     "Hurriyet newspaper, come amid tensions", False),
    # the subject must be there too, not only the verb
    ("What did the British government say about Russia's air strikes?",
     "The Russian air strikes had “weakened” IS, Syrian Army Chief of Staff Gen Ali Abdullah Ayoub said", False),
    ("What did the British government say about Russia's air strikes?", "The British government said the strikes "
     "were a mistake", True),
    ("What did NATO say about the missiles?", "North Atlantic Treaty Organisation diplomatic sources said Moscow "
     "had given no advance warning", True),
])
def test_states_act(question, text, expected):
    assert states_act(question, text) is expected


@pytest.mark.parametrize("question, text, span", [
    ("How many Russian cruise missiles crashed?", "US officials said four Russian cruise missiles bound for Syria had "
                                                  "crashed", "four Russian cruise missiles"),
    ("How long was Kerry's phone call?", "Kerry had a 30-minute telephone call", "30-minute"),
    ("How much was the US program?", "a short-lived $580 million program", "$580 million"),
    ("How far were the jihadists from Aleppo?", "now just over 10 kilometres (six miles) from", "10 kilometres"),
    ("How far were the jihadists from Aleppo?", "close to the city", None),
])
def test_measure_in(question, text, span):
    assert measure_in(question, text) == span


def test_why_asks_for_a_cause():
    assert kind("Why were Hamedani's boasts removed?") == "reason"
    assert not has_kind("Why were Hamedani's boasts removed?", "Hamedani’s boasts that Iran had created "
                        "“a second Hezbollah” were also removed.")
    assert has_kind("Why did Russia fire the missiles?", "The missile launches were in support of a major "
                    "ground offensive by the Syrian army.")


def test_a_range_or_a_rough_count_is_a_measure():
    assert kind("What is the range of Russia's cruise missiles?") == "number"
    assert not has_measure("What is the range of Russia's cruise missiles?", "four Russian cruise missiles crashed")
    assert has_measure("What is the range of the missiles?", "the missiles have a range of 1,500 km")
    assert measure_in("How many Iranian fighters are in Syria?", "elite Hezbollah fighters, and thousands of "
                      "Iranians who arrived") == "thousands of Iranians"


def test_names_held():
    missiles = "US officials said four Russian cruise missiles fired from a warship had crashed in Iran."
    assert not names_held("How many Russian cruise missiles crashed in Iraq?", missiles)
    assert names_held("How many of Russia's cruise missiles crashed in Iran?", missiles)  # "Russia" starts "Russian"
    assert names_held("Did NATO get a warning?", "North Atlantic Treaty Organisation sources said")
