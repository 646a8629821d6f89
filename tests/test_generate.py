"""The reader's check: its worked examples are well formed and owe nothing to the articles."""

from __future__ import annotations

import re

from rag.generate import CHECK_EXAMPLES, CHECKS, check_shots

from .conftest import ARTICLES


def test_each_check_is_shown_examples_of_both_replies_in_its_own_wording():
    for which, (_, user) in enumerate(CHECKS):
        shots = check_shots(which)
        assert len(shots) == len(CHECK_EXAMPLES)
        assert {reply for _, reply in shots} == {"yes", "no"}
        for (turn, _), (passage, question, *_rest) in zip(shots, CHECK_EXAMPLES):
            assert turn.startswith(f"Passage: {passage}\nQuestion: {question}\n")
            assert turn.endswith(user.rsplit("\n", 1)[-1])


def test_the_two_checks_disagree_where_the_passage_answers_but_the_answer_is_wrong():
    # a wrong answer to a question the passage answers: no to "is it correct", yes to "does it answer"
    assert any(first == "no" and second == "yes" for *_, first, second in CHECK_EXAMPLES)


def test_the_examples_name_nothing_the_articles_name():
    """Invented examples: no name or number in them occurs in the articles (they are not tuned to the gold set)."""
    articles = " ".join(p.read_text(encoding="utf-8") for p in ARTICLES.iterdir())
    words = set(re.findall(r"\w+", articles))
    for passage, question, answer, *_ in CHECK_EXAMPLES:
        text = f"{passage} {question} {answer}"
        names = {w for w in re.findall(r"\b[A-Z][a-z]+\b|\b\d+\b", text)} - {"The", "An", "A", "How", "Which",
                                                                             "When", "Where", "On", "Three"}
        assert not names & words, names & words
