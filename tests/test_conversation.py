"""Follow-ups: which questions lean on the conversation, which rewrites are kept, and bad histories."""

from __future__ import annotations

import pytest

from rag import QuestionError
from rag.conversation import MAX_TURN_CHARS, MAX_TURNS, Turn, accept, fragment, joined, needs_context, turns

HAMEDANI = [Turn("Who killed Hamedani?", "Gen. Hossein Hamedani was killed by ISIS extremists. [1]")]


@pytest.mark.parametrize("question", [
    "When was he killed?", "Where were they fired from?", "How did Russia respond to that claim?",
    "And how many sorties?", "What about France?", "In which province?", "Fired from how many ships?",
    "Who else was there?", "What happened there the same day?", "When was an excerpt of it released?",
    "What is the name of its head?", "Which group ran that camp?", "What did the minister say to them?",
    "What was said to them?", "What has happened to them?", "Exactly how many?", "Trained at which sites?",
    "Along with which groups?", "Who did he meet?", "Who killed him?",
    "Which group claimed his killing?", "Where did the missiles land after he spoke?", "Where was he when he died?",
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
    "Exactly how many soldiers took part once it began?", "How did the sources say the strikes had come to them?",
    "The head of which overseas unit of the IRGC counted Hamedani as a close ally?",
    "Who said that his side wanted help from its friends?",  # "his" is the "who" asked for
    # a pronoun opening a clause of the question: the asked-for subject's, or a singular noun's before it
    "Which French cabinet member announced that his country's jets had hit a camp in Raqqa?",
    "Which Iranian agency said unbelievers had killed the general while he served as an adviser?",
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
    program = [Turn("How much was the US program to train fighters worth?", "It was worth $580 million.")]
    assert accept("Trained at which sites?", "What sites did the US program train fighters at?", program) \
        == "What sites did the US program train fighters at?"  # "which sites" and "what sites" ask the same
    assert accept("Trained at which sites?", "Who trained the fighters?", program) is None
    # a rewrite that still leans on the conversation resolves nothing; a leading "And" is only style
    far = [Turn("How far are the jihadists from Aleppo?", "Ten kilometres, and three from the pro-regime forces.")]
    assert accept("And from the pro-regime forces?", "From the pro-regime forces?", far) is None
    assert accept("And how far from the pro-regime forces?", "And how far are the jihadists from the pro-regime forces?",
                  far) == "And how far are the jihadists from the pro-regime forces?"


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


class Scripted:
    """A stand-in reader: rewrites follow-ups as told, and answers every question with ``draft``."""

    name = "scripted"

    def __init__(self, draft: str, rewrites: dict[str, str]) -> None:
        self.draft, self.rewrites, self.rewrite_calls = draft, rewrites, []
        self.insisted: dict[str, str] = {}  # rewrites written only when words are barred
        self.barred: list[tuple[str, ...]] = []

    def count_tokens(self, text: str) -> int:
        return len(text.split())

    def generate(self, prompt, max_tokens: int):
        from rag.conversation import REWRITE_SYSTEM

        if prompt.system == REWRITE_SYSTEM:
            follow = prompt.user.rsplit("Follow-up question: ", 1)[1].split("\n")[0]
            self.rewrite_calls.append(follow)
            self.barred.append(prompt.avoid)
            yield (self.insisted if prompt.avoid else self.rewrites).get(follow, follow)
            return
        yield self.draft


@pytest.fixture
def chat(corpus, tmp_path, fake_embedder):
    from rag import RAG

    reader = Scripted("Passage 1: General Hamedani was killed on Thursday night.",
                      {"When was he killed?": "When was Hamedani killed?",
                       "Where was he from?": "Where was Soleimani from?"})
    return RAG.build(corpus, tmp_path / "index", embedder=fake_embedder, generator=reader), reader


def test_a_follow_up_is_answered_as_the_question_it_stands_for(chat):
    rag, reader = chat
    first = rag.ask("Who killed Hamedani?")
    answer = rag.ask("When was he killed?", history=[first])
    assert answer.read_as == "When was Hamedani killed?" and answer.to_dict()["read_as"] == answer.read_as
    assert "Thursday" in answer.text and answer.citations
    assert rag.ask("When was he killed?", history=[first.to_dict()]).read_as == "When was Hamedani killed?"


def test_a_standalone_question_or_no_history_costs_no_rewrite(chat):
    rag, reader = chat
    first = rag.ask("Who killed Hamedani?")
    assert rag.ask("When was Hamedani killed?", history=[first]).read_as == ""
    assert reader.rewrite_calls == []


def test_a_follow_up_with_no_conversation_asks_for_the_names_and_calls_no_model(chat):
    from rag.conversation import UNRESOLVED

    rag, reader = chat
    for question in ("When was he killed?", "And how many sorties?", "Which villages did Islamic State seize there?"):
        answer = rag.ask(question)
        assert answer.abstained and answer.text == UNRESOLVED and not answer.citations, answer.text
        assert answer.timings.completion_tokens == 0
    assert reader.rewrite_calls == []
    # the articles themselves are no earlier turn, and a person's pronoun may stand for a noun before it
    assert not rag.ask("Who is the US secretary of state in these reports?").text == UNRESOLVED
    assert not rag.ask("How long did the secretary of state talk with his Russian counterpart?").text == UNRESOLVED


def test_asked_alone_a_persons_pronoun_may_stand_for_any_noun_before_it():
    question = "For how long did the secretary of state talk with his Russian counterpart on the phone?"
    assert needs_context(question)  # with a conversation, the rewriter is asked who "his" is
    assert not needs_context(question, alone=True)
    for question in ("When was he killed?", "What did his spokesman say?", "What about France?"):
        assert needs_context(question, alone=True), question


def test_a_rewrite_that_brings_in_a_new_name_is_discarded(chat):
    rag, reader = chat
    first = rag.ask("Who killed Hamedani?")
    answer = rag.ask("Where was he from?", history=[first])
    assert reader.rewrite_calls == ["Where was he from?"] and answer.read_as == ""  # answered as typed


def test_a_rewriter_that_echoes_the_follow_up_is_asked_once_more_with_its_references_barred(chat):
    rag, reader = chat
    first = rag.ask("Who killed Hamedani?")
    reader.insisted = {"When did they kill him?": "When was Hamedani killed?"}
    answer = rag.ask("When did they kill him?", history=[first])
    assert reader.rewrite_calls == ["When did they kill him?"] * 2 and reader.barred == [(), ("they", "him")]
    assert answer.read_as == "When was Hamedani killed?" and "Thursday" in answer.text
    reader.rewrite_calls.clear()
    # nothing to bar: asked once; the fragment it echoed is read after the question it follows
    assert rag.ask("In which province?", history=[first]).read_as == "Who killed Hamedani? In which province?"
    assert reader.rewrite_calls == ["In which province?"]


@pytest.mark.parametrize("question, alone", [
    ("And the west?", True), ("What about France?", True), ("How soon?", True), ("Trained at which sites?", True),
    ("To fight which group?", True), ("And from the pro-regime forces?", True),
    ("When was he killed?", False), ("What happened there that day?", False), ("Whose close ally was he?", False),
])
def test_a_fragment_asks_nothing_of_its_own(question, alone):
    assert fragment(question) is alone


def test_a_fragment_the_rewriter_cannot_resolve_is_read_after_the_question_it_follows():
    east = [Turn("Who controls the east of Aleppo city?", "Rebel groups control the east. [1]")]
    assert joined("And the west?", east) == "Who controls the east of Aleppo city? And the west?"
    assert joined("And the west?", [Turn("Name the east's rulers", "Rebels.")]) == "Name the east's rulers? And the west?"
    assert joined("And the west?", []) == "And the west?"


@pytest.mark.parametrize("question, barred", [
    ("What would it provide instead?", ("it",)),
    ("And how many died in Aleppo?", ("And",)),
    ("Crossing whose airspace?", ("Crossing",)),
    ("Was any damage or anyone hurt there?", ("there",)),  # an auxiliary is needed again
    ("To fight which group?", ()),  # so is a preposition
    ("What had he bragged that Iran created?", ("he", "that")),
])
def test_an_echoed_follow_up_is_asked_again_without_its_references(question, barred):
    from rag.conversation import echoes, insist, rewrite_prompt

    prompt = rewrite_prompt(question, [Turn("Who killed Hamedani?", "ISIS killed him.")])
    again = insist(prompt, question)
    assert again.avoid == barred and (again.system, again.user, again.shots) == (prompt.system, prompt.user, prompt.shots)
    assert echoes(question, f' "{question}"\n') and not echoes(question, "When was Hamedani killed?")


def test_the_ask_api_takes_the_clients_history(chat):
    from gradio_client import Client

    from ui.app import build_app, launch

    from .conftest import free_port

    rag, _ = chat
    app = build_app(rag)
    url = launch(app, port=free_port(), block=False)
    try:
        client = Client(url, verbose=False)
        first = client.predict("Who killed Hamedani?", None, api_name="/ask")
        follow = client.predict("When was he killed?", [first], api_name="/ask")
        alone = client.predict("When was he killed?", None, api_name="/ask")
        with pytest.raises(Exception, match="history must be a list"):  # noqa: B017 - gradio_client's AppError
            client.predict("When was he killed?", "not a list", api_name="/ask")
    finally:
        app.close()
    assert follow["read_as"] == "When was Hamedani killed?" and "Thursday" in follow["answer"]
    assert alone["read_as"] == "When was he killed?"
