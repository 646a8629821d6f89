"""Follow-ups: which questions lean on the conversation, which rewrites are kept, and bad histories."""

from __future__ import annotations

import pytest

from rag import QuestionError
from rag.conversation import MAX_TURN_CHARS, MAX_TURNS, Turn, accept, needs_context, turns

HAMEDANI = [Turn("Who killed Hamedani?", "Gen. Hossein Hamedani was killed by ISIS extremists. [1]")]


@pytest.mark.parametrize("question", [
    "When was he killed?", "Where were they fired from?", "How did Russia respond to that claim?",
    "And how many sorties?", "What about France?", "In which province?", "Fired from how many ships?",
    "Who else was there?", "What happened there the same day?", "When was an excerpt of it released?",
    "What is the name of its head?", "Which group ran that camp?",
])
def test_a_question_that_leans_on_the_conversation_is_noticed(question):
    assert needs_context(question)


@pytest.mark.parametrize("question", [
    "Who killed Hamedani?", "Which monitoring group said it was the biggest advance by Islamic State?",
    "What did Lavrov say to Kerry during their call?", "Is there any sign the militants are short of ammunition?",
    "Who replaced Hamedani as commander after his death?", "What did Washington say it was pulling the plug on?",
    "On what day did the missiles land in Iran?", "Which region did the insurgents threaten earlier this year?",
    "Has it been established whether the killing was related to the offensive?",
    "How many Russian cruise missiles crashed in Iran?",
])
def test_a_question_that_stands_alone_is_left_alone(question):
    assert not needs_context(question)


def test_a_rewrite_may_only_add_words_of_the_conversation():
    assert accept("When was he killed?", "When was Hamedani killed?", HAMEDANI) == "When was Hamedani killed?"
    assert accept("When was he killed?", "Rewritten question: When was Gen. Hossein Hamedani killed", HAMEDANI) \
        == "When was Gen. Hossein Hamedani killed?"
    # a word from nowhere in the conversation changes what is asked
    assert accept("When was he killed?", "When was Soleimani killed?", HAMEDANI) is None
    assert accept("When was he killed?", "When was Hamedani killed in 2015?", HAMEDANI) is None
    assert accept("When was he killed?", "When was he killed?", HAMEDANI) is None  # nothing resolved
    assert accept("When was he killed?", "Who killed Hamedani?", HAMEDANI) is None  # the earlier question again
    assert accept("When was he killed?", "", HAMEDANI) is None


def test_history_takes_answers_or_their_dicts_and_reads_only_the_last_turns():
    from rag import Answer, Citation

    answer = Answer("Who killed Hamedani?", "ISIS killed him [1].", False,
                    (Citation("1", "000_doc", 0, 5, "Hello"),))
    many = [{"question": f"q{i}?", "answer": "a"} for i in range(10)] + [answer, answer.to_dict()]
    read = turns(many)
    assert len(read) == MAX_TURNS and read[-1] == Turn("Who killed Hamedani?", "ISIS killed him [1].", ("000_doc",))
    assert turns(None) == [] and turns([]) == []
    long = turns([{"question": "Who? " * 40_000, "answer": "x" * 100_000}])[0]
    assert len(long.question) <= MAX_TURN_CHARS + 2 and len(long.answer) <= MAX_TURN_CHARS + 2


@pytest.mark.parametrize("history", ["Who killed Hamedani?", {"question": "q"}, [1, 2], [{"answer": "a"}],
                                     [{"question": 5, "answer": "a"}], [None], [{"question": "q?"}] * 100_000])
def test_a_malformed_history_is_one_sentence(history):
    with pytest.raises(QuestionError) as err:
        turns(history)
    assert err.value.args[0].endswith(".") and "\n" not in err.value.args[0]
