"""Load .txt, .md, .html and .pdf files into Documents whose content spans index the original text.

Nothing is rewritten: cleaning only decides which spans of the file carry content, so every
offset stays valid for the original file. Web boilerplate ("Share", "Advertisement", page
timestamps, lists of related headlines, keyword lines) gets no span and so never becomes a passage.

A PDF becomes one Document per page that has text, with the id "<file stem>#p<page>" and the
text pypdf extracts from that page, so a citation names the page and its offsets index that
page's text (bench/bench_pdf.py: pypdf and pdfplumber give the same words on our test PDFs, and
pypdf is several times faster, with no native dependencies).
"""

from __future__ import annotations

import hashlib
import html
import io
import logging
import re
from collections.abc import Iterable
from html.parser import HTMLParser
from pathlib import Path

from .types import PAGE_MARK, Document, page_of

log = logging.getLogger(__name__)

SUFFIXES = (".txt", ".md", ".markdown", ".html", ".htm", ".pdf")  # the one list of what can be indexed (and uploaded)
MARKUP_SUFFIXES = (".html", ".htm")  # files whose spans may hold tags and entities
_SPELLINGS = {".markdown", ".htm"}  # other spellings of a suffix above: accepted, not named in sentences


def _types(suffixes: Iterable[str]) -> str:
    """The suffixes as a sentence names them: ('.txt', '.md', '.markdown') -> '.txt or .md'."""
    named = [s for s in suffixes if s not in _SPELLINGS]
    return named[0] if len(named) == 1 else ", ".join(named[:-1]) + " or " + named[-1]


TYPES = _types(SUFFIXES)  # ".txt, .md or .html", for sentences such as "x.py is not a .txt, .md or .html file"

_BOILERPLATE = re.compile(
    r"^(share|share this|advertisement|listen live|get short url|community standards\w*|discussion|"
    r"related|read more|subscribe|sign up|print|email|comments?|tweet|follow us.*|cookie.*)$",
    re.IGNORECASE,
)
_TIMESTAMP = re.compile(r"^\d{1,2}:\d{2}\s*(GMT|UTC)?\s*\d{0,2}\s*\w*\s*\d{4}$", re.IGNORECASE)
_TERMINAL = re.compile(r"[.!?…:;\"”’)\]]$")
_WORD = re.compile(r"[A-Za-z][A-Za-z'’-]*")
_SMALL_WORDS = {"a", "an", "the", "of", "in", "on", "at", "to", "for", "and", "or", "with", "by", "from", "into", "as"}
_BLOCK_TAGS = {"p", "div", "br", "li", "ul", "ol", "h1", "h2", "h3", "h4", "h5", "h6", "tr", "td", "th", "table",
               "section", "article", "header", "footer", "blockquote", "pre", "dt", "dd", "figcaption", "title", "hr"}
_HIDDEN_TAGS = {"script", "style", "noscript", "template", "head", "nav", "aside", "svg", "iframe", "form", "button"}


class SkippedFile(Exception):  # noqa: N818 - a result the loader reports, not an error to the user
    """A file that cannot be indexed; the message says why (shown as a warning)."""


def iter_paths(docs_dir: str | Path) -> list[Path]:
    """The indexable files under ``docs_dir``, sorted so document order is stable."""
    root = Path(docs_dir)
    return sorted(p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in SUFFIXES and not p.name.startswith("."))


def load_file(path: Path, max_bytes: int = 20_000_000, data: bytes | None = None) -> list[Document]:
    """The Documents of one file: one for text, one per page with text for a PDF; SkippedFile if there are none."""
    data = read_bytes(path, max_bytes) if data is None else data
    if path.suffix.lower() == ".pdf":
        return pdf_pages(path.stem, str(path), data)
    return [parse_document(path.stem, str(path), data)]


def file_of(doc_id: str) -> str:
    """The id of the file a document comes from: "report#p3" -> "report", "article" -> "article"."""
    return doc_id.rsplit(PAGE_MARK, 1)[0] if page_of(doc_id) else doc_id


def read_bytes(path: Path, max_bytes: int) -> bytes:
    try:
        size = path.stat().st_size
        if size > max_bytes:
            raise SkippedFile(f"Skipped {path}: {size:,} bytes is over the {max_bytes:,}-byte limit (setting max_doc_bytes).")
        return path.read_bytes()
    except OSError as exc:
        raise SkippedFile(f"Skipped {path}: cannot read it ({exc.strerror or exc}).") from None


def load_document(path: Path, max_bytes: int = 20_000_000) -> Document:
    """Read one text file; raises SkippedFile for empty, binary, non-UTF-8 or contentless files."""
    data = read_bytes(path, max_bytes)
    return parse_document(path.stem, str(path), data)


def pdf_pages(stem: str, path: str, data: bytes) -> list[Document]:
    """One Document per PDF page with text (id "<stem>#p<n>", n from 1); SkippedFile for corrupt, locked or scanned PDFs."""
    from pypdf import PdfReader
    from pypdf.errors import PyPdfError

    logging.getLogger("pypdf").setLevel(logging.ERROR)  # its warnings on damaged files; SkippedFile says it once
    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted and not reader.decrypt(""):
            raise SkippedFile(f"Skipped {path}: the PDF is encrypted with a password; save an unlocked copy to index it.")
        texts = [page.extract_text() or "" for page in reader.pages]
        meta_title = (reader.metadata or {}).get("/Title") or ""
    except SkippedFile:
        raise
    except (PyPdfError, ValueError, KeyError, TypeError, AttributeError, IndexError, OSError, NotImplementedError) as exc:
        # pypdf reports a damaged file as whichever of these its parser hits first
        raise SkippedFile(f"Skipped {path}: it is not a readable PDF ({type(exc).__name__}: {str(exc)[:80]}).") from None
    digest = hashlib.sha256(data).hexdigest()
    docs: list[Document] = []
    title = " ".join(str(meta_title).split())
    for number, text in enumerate(texts, 1):
        blocks, first_line = content_blocks(text, text_lines(text))
        title = title or first_line
        if blocks:
            docs.append(Document(f"{stem}{PAGE_MARK}{number}", path, text, title, digest, tuple(blocks)))
    if not docs:
        raise SkippedFile(f"Skipped {path}: the PDF has no text layer (a scan?); run OCR on it to index it.")
    return [d if d.title == title else Document(d.id, d.path, d.text, title, d.sha256, d.blocks) for d in docs]


def parse_document(doc_id: str, path: str, data: bytes) -> Document:
    if not data.strip():
        raise SkippedFile(f"Skipped {path}: the file is empty.")
    if b"\x00" in data[:8192]:
        raise SkippedFile(f"Skipped {path}: it looks like a binary file, not text.")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SkippedFile(f"Skipped {path}: it is not UTF-8 text (bad byte at offset {exc.start}); convert it to UTF-8.") from None
    if text.startswith("\ufeff"):
        text = " " + text[1:]  # keep offsets: the BOM becomes one space
    suffix = Path(path).suffix.lower()
    markup = is_markup(path)
    page_title = ""
    if markup:
        lines, page_title = html_lines(text)
    else:
        lines = text_lines(text, markdown=suffix in (".md", ".markdown"))
    blocks, title = content_blocks(text, lines)
    title = page_title or title
    if not blocks:
        raise SkippedFile(f"Skipped {path}: no readable text in it.")
    return Document(doc_id, path, text, title, hashlib.sha256(data).hexdigest(), tuple(blocks), markup)


def is_markup(path: str | Path) -> bool:
    """True for a file whose text is HTML, so that its spans may hold tags: "a/page.HTM" -> True."""
    return Path(path).suffix.lower() in MARKUP_SUFFIXES


def text_lines(text: str, markdown: bool = False) -> list[tuple[int, int]]:
    """Spans of non-empty lines, trimmed; Markdown front matter and heading marks are left out.

    "a\\n\\n  b " -> [(0, 1), (5, 6)]
    """
    spans = []
    skip_until = 0
    if markdown:
        match = re.match(r"\A\s*---\r?\n.*?\r?\n---[ \t]*(\r?\n|\Z)", text, re.DOTALL)
        skip_until = match.end() if match else 0
    for match in re.finditer(r"[^\r\n]+", text):
        start, end = match.span()
        if start < skip_until:
            continue
        line = match.group()
        lead = len(line) - len(line.lstrip())
        if markdown:
            heading = re.match(r"\s*(#{1,6}\s+|>\s*|[-*+]\s+|\d+\.\s+)", line)
            lead = heading.end() if heading else lead
        start, end = start + lead, start + len(line.rstrip())
        if end > start:
            spans.append((start, end))
    return _join_wrapped(text, spans)


def _join_wrapped(text: str, spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Join hard-wrapped lines of one paragraph: the next line continues in lower case.

    "a long line,\nwrapped here.\nNew" -> one span for the first two lines, one for "New"
    """
    joined: list[tuple[int, int]] = []
    for start, end in spans:
        if joined:
            prev_start, prev_end = joined[-1]
            gap = text[prev_end:start]
            if gap.count("\n") == 1 and not gap.strip() and (text[start].islower() or text[prev_end - 1] in ",-"):
                joined[-1] = (prev_start, end)
                continue
        joined.append((start, end))
    return joined


class _VisibleText(HTMLParser):
    """Collect spans of visible text in HTML, grouped into block-level lines."""

    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=False)
        self.source = text
        self.line_starts = [0] + [m.end() for m in re.finditer(r"\n", text)]
        self.hidden = 0
        self.lines: list[tuple[int, int]] = []
        self.current: list[int] = []
        self.title = ""  # text of <title>, used as the document title
        self._in_title = False

    def _pos(self) -> int:
        line, col = self.getpos()
        return self.line_starts[line - 1] + col

    def handle_starttag(self, tag: str, attrs: list) -> None:
        self._in_title = tag == "title"
        if tag in _HIDDEN_TAGS:
            self.hidden += 1
        if tag in _BLOCK_TAGS:
            self.flush()

    def handle_startendtag(self, tag: str, attrs: list) -> None:
        if tag in _BLOCK_TAGS:
            self.flush()

    def handle_endtag(self, tag: str) -> None:
        self._in_title = False
        if tag in _HIDDEN_TAGS and self.hidden:
            self.hidden -= 1
        if tag in _BLOCK_TAGS:
            self.flush()

    def _text(self, raw_len: int) -> None:
        if self.hidden:
            return
        start = self._pos()
        end = start + raw_len
        if self.current:
            self.current[1] = end
        else:
            self.current = [start, end]

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title += data
        self._text(len(data))

    def handle_entityref(self, name: str) -> None:
        self._text(len(name) + 2 if self.source.startswith(";", self._pos() + len(name) + 1) else len(name) + 1)

    def handle_charref(self, name: str) -> None:
        self._text(len(name) + 3)

    def flush(self) -> None:
        if self.current:
            start, end = self.current
            segment = self.source[start:end]
            for match in re.finditer(r"[^\r\n]+(?:\r?\n[ \t]*[^\s<][^\r\n]*)*", segment):
                piece = match.group()
                lead = len(piece) - len(piece.lstrip())
                s, e = start + match.start() + lead, start + match.start() + len(piece.rstrip())
                if e > s:
                    self.lines.append((s, e))
        self.current = []


def html_lines(text: str) -> tuple[list[tuple[int, int]], str]:
    """Spans of visible block-level text in an HTML file (scripts, styles, nav left out), and its <title>."""
    parser = _VisibleText(text)
    parser.feed(text)
    parser.close()
    parser.flush()
    return parser.lines, visible(parser.title)


def visible(raw: str) -> str:
    """Readable text of a raw span: tags removed, entities decoded, whitespace folded.

    "Hi <b>you</b> &amp; me" -> "Hi you & me"
    """
    no_tags = re.sub(r"<[^>]*>", "", raw)
    return " ".join(html.unescape(no_tags).split())


def _words(line: str) -> list[str]:
    return _WORD.findall(line)


def _is_title_case(line: str) -> bool:
    words = [w for w in _words(line) if w.lower() not in _SMALL_WORDS]
    return len(words) >= 3 and sum(w[0].isupper() for w in words) / len(words) >= 0.75


def is_boilerplate(line: str, first: bool) -> bool:
    """True for page furniture: sharing buttons, timestamps, related headlines, keyword lists.

    A headline is kept when it is the document's first content line (its title).
    """
    stripped = visible(line).strip()
    if not stripped or _BOILERPLATE.match(stripped) or _TIMESTAMP.match(stripped):
        return True
    terminal = bool(_TERMINAL.search(stripped))
    words = _words(stripped)
    if not terminal and len(words) < 4:
        return True  # labels and buttons: "Middle East", "Get short URL"
    parts = [p.strip() for p in stripped.split(",")]
    if not terminal and len(parts) >= 4 and all(len(p.split()) <= 3 for p in parts):
        return True  # keyword line: "airstrike, ground offensive, Hezbollah, ..."
    if not terminal and not first and _is_title_case(stripped):
        return True  # a related-headline link, not the article's own title
    return False


def content_blocks(text: str, lines: list[tuple[int, int]]) -> tuple[list[tuple[int, int]], str]:
    """Drop boilerplate lines; return (content spans, title)."""
    blocks: list[tuple[int, int]] = []
    title = ""
    for start, end in lines:
        line = text[start:end]
        if is_boilerplate(line, first=not blocks):
            continue
        if not blocks and not _TERMINAL.search(line.strip()):
            title = visible(line)
        blocks.append((start, end))
    return blocks, title
