"""The facade with fakes through its seams: contract, bad questions, streaming, uploads."""

import json

import pytest

from rag import RAG, Answer, DocumentError, QuestionError

from .conftest import EchoGenerator, article, is_span


@pytest.fixture
def rag_echo(corpus, tmp_path, fake_embedder):
    def make(draft: str) -> RAG:
        return RAG.build(corpus, tmp_path / "index", embedder=fake_embedder, generator=EchoGenerator(draft))

    return make


def test_answer_follows_the_json_contract(rag_echo, corpus):
    answer = rag_echo("Hamedani was killed by ISIS extremists [1].").ask("Who killed Hamedani?")
    data = json.loads(json.dumps(answer.to_dict()))
    assert set(data) >= {"question", "answer", "abstained", "citations", "passages", "timings"}
    assert set(data["timings"]) >= {"retrieve_ms", "generate_ms", "total_ms", "prompt_tokens", "completion_tokens"}
    assert data["passages"] and data["citations"]
    for item in data["citations"] + data["passages"]:
        assert is_span(article(item["doc_id"], corpus), item), item
    assert "ISIS" in data["answer"] and not data["abstained"]
    assert any("killed by ISIS" in c["text"] for c in data["citations"])


def test_stream_yields_drafts_then_the_verified_answer(rag_echo):
    pieces = list(rag_echo("Four missiles crashed in Iran [9].").stream("Where did the Russian missiles crash?"))
    assert all(isinstance(p, str) for p in pieces[:-1]) and len(pieces) > 2
    final = pieces[-1]
    assert isinstance(final, Answer)
    assert "Iran" in final.text and all(c.key in {"1", "2", "3", "4", "5"} for c in final.citations)


def test_a_name_the_reader_invents_never_reaches_the_user(rag_echo):
    answer = rag_echo("The spokesman is Donald Duck [1].").ask("Who is the Pentagon spokesman?")
    assert "Duck" not in answer.text
    right = rag_echo("Passage 2: The Pentagon spokesman is Peter Cook.").ask("Who is the Pentagon spokesman?")
    assert right.mode == "generated" and "Peter Cook" in right.text
    assert any("Pentagon spokesman Peter Cook" in c.text for c in right.citations)


def test_a_misspelt_question_is_answered_as_read_and_says_so(rag_echo, corpus, tmp_path, fake_embedder):
    answer = rag_echo("Hamedani was killed by ISIS extremists [1].").ask("who kiled hamedany")
    assert answer.question == "who kiled hamedany" and answer.read_as == "who killed hamedani"
    assert answer.to_dict()["read_as"] == "who killed hamedani"
    assert "ISIS" in answer.text and not answer.abstained
    plain = RAG.build(corpus, tmp_path / "index", embedder=fake_embedder, generator=EchoGenerator("x"), spelling=False)
    assert plain.read("who kiled hamedany") == "who kiled hamedany"
    assert rag_echo("x").ask("Who killed Hamedani?").to_dict()["read_as"] == "Who killed Hamedani?"


@pytest.mark.parametrize("question", ["", "   ", "\n\t"])
def test_empty_question_is_refused(rag_echo, question):
    with pytest.raises(QuestionError, match="empty"):
        rag_echo("x").ask(question)


def test_huge_question_is_refused_quickly(rag_echo):
    with pytest.raises(QuestionError, match="limit"):
        rag_echo("x").ask("why " * 50_000)


def test_control_characters_are_harmless(rag_echo):
    answer = rag_echo("Hamedani was killed by ISIS extremists.").ask("Who\x00 killed\x1b[31m Hamedani?\x07")
    assert not answer.abstained and "\x00" not in answer.question


def test_upload_adds_a_document_without_reembedding_the_rest(rag_echo, tmp_path, fake_embedder):
    rag = rag_echo("The zebra parade was held in Lisbon [1].")
    before = fake_embedder.calls
    new = tmp_path / "zebra.md"
    new.write_text("# Zebra Parade Held In Lisbon\n\nThe annual zebra parade was held in Lisbon on Sunday.\n")
    report = rag.add_documents([new])
    assert report.added == ("zebra",) and fake_embedder.calls - before == report.embedded <= 3
    answer = rag.ask("Where was the zebra parade held?")
    assert answer.citations and answer.citations[0].doc_id == "zebra"
    good, evil = tmp_path / "good.txt", tmp_path / "evil.exe"
    good.write_text("A good sentence about the zebra parade.")
    with pytest.raises(DocumentError, match="only those"):
        rag.add_documents([good, evil])
    assert not (corpus_dir(rag) / "good.txt").exists()  # nothing copied when any file is refused
    clash = tmp_path / "clash" / "zebra.md"
    clash.parent.mkdir()
    clash.write_text("Different text under the same name.")
    with pytest.raises(DocumentError, match="already indexed"):
        rag.add_documents([clash])


def corpus_dir(rag):
    from pathlib import Path

    return Path(rag.config.docs_dir)


def test_context_returns_the_cited_passage_with_neighbours(rag_echo):
    rag = rag_echo("Hamedani was killed by ISIS extremists [1].")
    cite = rag.ask("Who killed Hamedani?").citations[0]
    around = rag.context(cite.doc_id, cite.start, cite.end)
    assert any(c.start == cite.start for c in around) and len(around) >= 2


class CheckingGenerator(EchoGenerator):
    """A reader whose check says yes only to answers holding ``liked``."""

    def __init__(self, draft: str, liked: str) -> None:
        super().__init__(draft)
        self.liked, self.checked = liked, []

    def check(self, question, passage, answer):
        self.checked.append((question, passage, answer))
        return 0.9 if self.liked in answer else 0.1


@pytest.mark.parametrize("check", [0.0, 0.5])
def test_the_readers_check_is_asked_only_when_the_setting_is_on(corpus, tmp_path, fake_embedder, check):
    generator = CheckingGenerator("The missiles crashed en route in Iran.", "Zanzibar")
    rag = RAG.build(corpus, tmp_path / "index", embedder=fake_embedder, generator=generator, check=check)
    answer = rag.ask("Where did the stray missiles end up?")
    if check:
        (question, passage, shown), = generator.checked  # asked once, of the claim and the passage that holds it
        assert question == "Where did the stray missiles end up?" and "crashed" in passage and "Iran" in passage
        assert shown == "The missiles crashed en route in Iran."
        assert answer.abstained and not answer.citations  # the check said no
    else:
        assert generator.checked == [] and not answer.abstained and "Iran" in answer.text


class PointingGenerator(EchoGenerator):
    """Answers "Passage 1" to the question, and a sentence when barred from naming a passage."""

    def generate(self, prompt, max_tokens):
        self.prompts.append(prompt)
        yield "Hamedani was killed by ISIS extremists." if prompt.avoid else "Passage 1"


def test_a_reader_that_answers_only_a_passage_number_is_asked_once_more(corpus, tmp_path, fake_embedder):
    generator = PointingGenerator("")
    answer = RAG.build(corpus, tmp_path / "index", embedder=fake_embedder, generator=generator).ask("Who killed Hamedani?")
    first, again = generator.prompts
    assert again.avoid == ("Passage",) and (again.user, again.keys) == (first.user, first.keys)  # the same question
    assert answer.mode == "generated" and "ISIS" in answer.text and answer.draft.startswith("Hamedani")
    plain = EchoGenerator("Hamedani was killed by ISIS extremists [1].")
    RAG.build(corpus, tmp_path / "index2", embedder=fake_embedder, generator=plain).ask("Who killed Hamedani?")
    assert len(plain.prompts) == 1  # an answer in words is not asked again
