"""Misspelt question words are read as the articles' words, and nothing else is touched."""

import pytest

from rag.spelling import Speller
from rag.text import tokens

ARTICLES = ["Gen. Hossein Hamedani was killed by ISIS extremists.",
            "US officials said four Russian cruise missiles had crashed in Iran.",
            "Kerry had a 30-minute telephone call with his Russian counterpart, Sergei Lavrov.",
            "Su-34 aircraft completed 88 sorties.", "Other activists wondered where the Americans were."]


@pytest.fixture(scope="module")
def speller():
    return Speller(tokens(text) for text in ARTICLES)


@pytest.mark.parametrize("typed, read", [
    ("who kiled hamedany", "who killed hamedani"),
    ("Wher did the Russain missles crash?", "Where did the Russian missiles crash?"),
    ("How many sortes did the aircarft fly?", "How many sorties did the aircraft fly?"),
    ("What did Lavrof tell Kery?", "What did Lavrov tell Kerry?"),
])
def test_a_misspelt_word_is_read_as_the_article_word_nearest_to_it(speller, typed, read):
    assert speller.correct(typed) == read


@pytest.mark.parametrize("question", [
    "Who killed Soleimani?",  # a name the articles lack stays as typed, not turned into one they have
    "What is the capitol of France?",  # English words are left alone, even unlike the articles'
    "Which Iraqi city was hit?",
    "How many Russian jets, 26 or 88?",
])
def test_english_words_and_unknown_names_are_left_alone(speller, question):
    assert speller.correct(question) == question
