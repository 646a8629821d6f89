"""Loading and cleaning: boilerplate never becomes a passage, offsets always hold."""

from pathlib import Path

import pytest

from rag.chunk import chunk_document
from rag.documents import SkippedFile, iter_paths, load_document, parse_document, visible

from .conftest import ARTICLES, is_span

BOILERPLATE = ["Advertisement", "Listen Live", "Get short URL", "Community standards", "23:39 GMT17 May 2021",
               "Moscow Sends Syria Flight Safety Proposals", "airstrike, ground offensive", "Middle East",
               "With Naval Strikes into Syria"]


@pytest.mark.parametrize("path", iter_paths(ARTICLES), ids=lambda p: p.stem)
def test_seed_articles_lose_their_boilerplate_and_keep_offsets(path: Path):
    doc = load_document(path)
    assert doc.id == path.stem
    chunks = chunk_document(doc)
    assert chunks
    for chunk in chunks:
        assert is_span(doc.text, chunk), chunk
        assert not chunk.text.strip().startswith("Share")
        for junk in BOILERPLATE:
            assert junk not in chunk.text, (junk, chunk.text)


def test_the_answer_sentence_is_its_own_passage():
    doc = load_document(ARTICLES / "000_9b77c177f7e2b0b1.txt")
    texts = [c.text for c in chunk_document(doc)]
    assert any("was killed by ISIS extremists" in t for t in texts)
    assert doc.title.startswith("IS advances on Syria")


def test_html_gives_visible_text_only_with_file_offsets():
    raw = ("<html><head><title>T</title><style>p{color:red}</style><script>alert('x')</script></head>"
           "<body><nav>Home | About</nav><h1>Missiles Crash In Iran During Strike</h1>"
           "<p>Four <b>Russian</b> cruise missiles crashed in Iran, officials said. Russia denied it.</p>"
           "<p>Fish &amp; chips were not involved.</p></body></html>")
    doc = parse_document("page", "page.html", raw.encode())
    chunks = chunk_document(doc)
    readable = " ".join(c.readable for c in chunks)
    assert "alert" not in readable and "color:red" not in readable and "Home | About" not in readable
    assert "Four Russian cruise missiles crashed in Iran, officials said." in readable
    assert "Fish & chips" in readable
    assert doc.title == "T"
    for c in chunks:
        assert is_span(raw, c), c


def test_markdown_front_matter_and_heading_marks_are_not_content():
    raw = "---\ntitle: x\nsecret: yes\n---\n# Missiles Crash In Iran Today\n\nFour missiles crashed in Iran.\n"
    doc = parse_document("note", "note.md", raw.encode())
    text = " ".join(c.text for c in chunk_document(doc))
    assert "secret" not in text and "#" not in text
    assert "Four missiles crashed in Iran." in text


def test_hard_wrapped_paragraphs_are_joined():
    raw = "The missiles were fired from a warship\nin the Caspian Sea, officials said.\nRussia denied it.\n"
    doc = parse_document("w", "w.txt", raw.encode())
    texts = [c.text for c in chunk_document(doc, sentences=1)]
    assert texts[0].startswith("The missiles") and texts[0].endswith("officials said.")


@pytest.mark.parametrize("data,reason", [
    (b"", "empty"), (b"   \n", "empty"), (b"\x00\x01\x02binary", "binary"),
    ("caf\xe9 au lait".encode("latin-1"), "UTF-8"), (b"Share\nAdvertisement\n", "no readable text"),
])
def test_unusable_files_are_skipped_with_a_reason(data, reason):
    with pytest.raises(SkippedFile, match=reason):
        parse_document("x", "x.txt", data)


def test_oversized_files_are_skipped(tmp_path):
    big = tmp_path / "big.txt"
    big.write_text("Words here. " * 1000)
    with pytest.raises(SkippedFile, match="limit"):
        load_document(big, max_bytes=100)


def test_visible():
    assert visible("Hi <b>you</b> &amp; me") == "Hi you & me"
