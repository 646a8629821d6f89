"""HTML for the chat page. Every string that comes from a document or the model is escaped here.

Citation markers become buttons that open a popover (the HTML `popover` attribute, no script)
showing the source with the cited span in <mark>; a cited PDF page is shown whole, with its page
number. Nothing here imports gradio or loads a model.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Sequence

from rag import Answer, Chunk, Citation, IndexReport
from rag.documents import visible

Context = Callable[[str, int, int], list[Chunk]]  # rag.context(doc_id, start, end)
Markup = Callable[[str], bool]  # rag.is_markup(doc_id): is the document HTML?

_MARKER = re.compile(r"\[([A-Za-z0-9]{1,8})\]")
_PDF_PAGE = re.compile(r"^(.*)#p[1-9][0-9]*$")  # a PDF page's document id (rag.types.page_of)
_MODES = {"generated": "checked against the sources", "quoted": "quoted from a source", "conflict": "the sources disagree"}
CLOSEST = 3  # passages listed under an abstention


def esc(text: object) -> str:
    """Text made safe to place anywhere in HTML, attributes included: '<b a="1">' -> '&lt;b a=&quot;1&quot;&gt;'."""
    return html.escape(str(text), quote=True)


def _display(raw: str, markup: bool) -> str:
    """A piece of a chunk as escaped display text; keeps one space at either edge so pieces join cleanly.

    visible() trims the edges, so it reads the piece between two guard characters: "<b>x</b> " -> "x ".
    """
    return esc(visible(f"|{raw}|")[1:-1] if markup else re.sub(r"\s+", " ", raw))


def _title(doc_id: str, titles: dict[str, str]) -> str:
    return titles.get(doc_id) or doc_id


def _where(doc_id: str, page: int | None) -> str:
    """Where a passage is, as escaped HTML: the document id, or the file and page of a PDF page."""
    if page is None:
        return f"<code>{esc(doc_id)}</code>"
    return f'<code>{esc(doc_id.rsplit("#p", 1)[0])}.pdf</code> · <span class="page">page {page}</span>'


# -- a citation, shown in place -----------------------------------------------------------------
def context_html(citation: Citation, chunks: Sequence[Chunk], markup: bool = False) -> str:
    """The cited chunk between its neighbours, the cited span in <mark>; the citation alone if no context.

    ``markup``: the chunks are spans of an HTML document, shown as their visible text.
    """
    if not chunks:
        return f'<p><mark>{_display(citation.text, False)}</mark></p>'
    parts = []
    for chunk in chunks:
        lo, hi = max(citation.start, chunk.start), min(citation.end, chunk.end)
        if lo >= hi:
            parts.append(f'<p class="around">{_display(chunk.text, markup).strip()}</p>')
            continue
        before = _display(chunk.text[: lo - chunk.start], markup).lstrip()
        cited = _display(chunk.text[lo - chunk.start : hi - chunk.start], markup).strip()
        after = _display(chunk.text[hi - chunk.start :], markup).rstrip()
        parts.append(f"<p>{before}<mark>{cited}</mark>{after}</p>")
    return "".join(parts)


def popover_html(pid: str, citation: Citation, titles: dict[str, str], chunks: Sequence[Chunk],
                 markup: bool = False) -> str:
    title = _title(citation.doc_id, titles)
    return (
        f'<div popover id="{esc(pid)}" class="source-pop" role="dialog" aria-label="Source [{esc(citation.key)}]">'
        f'<div class="pop-head"><span class="key">[{esc(citation.key)}]</span>'
        f'<span class="pop-title">{esc(title)}</span>'
        f'<button class="pop-close" popovertarget="{esc(pid)}" popovertargetaction="hide" aria-label="Close">×</button></div>'
        f'<div class="pop-doc">{_where(citation.doc_id, citation.page)} · characters {citation.start}–{citation.end}'
        f'{" of the page" if citation.page else ""}</div>'
        f'<div class="pop-context">{context_html(citation, chunks, markup)}</div></div>'
    )


# -- one answer --------------------------------------------------------------------------------
def answer_text_html(text: str, keys: dict[str, str]) -> str:
    """Answer text escaped, with each verified marker turned into a button; other brackets stay text.

    keys maps a citation key to its popover id: "IS did it [1]." -> 'IS did it <button ...>[1]</button>.'
    """
    out, last = [], 0
    for match in _MARKER.finditer(text):
        key = match.group(1)
        if key not in keys:
            continue
        out.append(esc(text[last : match.start()]))
        out.append(f'<button class="cite" popovertarget="{esc(keys[key])}" title="Show source {esc(key)}">'
                   f"[{esc(key)}]</button>")
        last = match.end()
    out.append(esc(text[last:]))
    return "".join(out)


def answer_html(answer: Answer, context: Context, titles: dict[str, str], turn: int, model: str = "",
                markup: Markup | None = None) -> str:
    """The verified answer with clickable citations, or an abstention with the closest passages."""
    keys = {c.key: f"src-{turn}-{c.key}" for c in answer.citations}
    pops = "".join(popover_html(keys[c.key], c, titles, context(c.doc_id, c.start, c.end),
                                bool(markup and markup(c.doc_id))) for c in answer.citations)
    body = f'<p class="answer-text">{answer_text_html(answer.text, keys)}</p>'
    if answer.read_as:
        body = f'<p class="read-as">Read as: <em>{esc(answer.read_as)}</em></p>' + body
    if answer.abstained:
        closest = "".join(
            f'<li><span class="doc">{esc(_title(h.chunk.doc_id, titles))}</span> {esc(h.chunk.readable)}</li>'
            for h in answer.hits[:CLOSEST]
        )
        if closest:
            body += f'<div class="closest"><div class="label">Closest passages looked at</div><ol>{closest}</ol></div>'
    mode = _MODES.get(answer.mode, "")
    meta = [f"{len(answer.citations)} source{'s' if len(answer.citations) != 1 else ''}"] if answer.citations else []
    meta += [mode] if mode and not answer.abstained else []
    meta += [f"{answer.timings.total_ms / 1000:.1f} s"] if answer.timings.total_ms else []
    meta += [model] if model and answer.timings.completion_tokens else []  # only if the model actually wrote
    return (f'<div class="answer mode-{esc(answer.mode)}">{body}{pops}'
            f'<div class="meta">{esc(" · ".join(meta))}</div></div>')


def draft_html(draft: str) -> str:
    """The model's unverified text while it streams."""
    return (f'<div class="answer draft" aria-busy="true"><p class="answer-text">{esc(draft) or "…"}</p>'
            '<div class="meta">draft — checking it against the articles</div></div>')


def waiting_html(ahead: int | None = None) -> str:
    """The note under a question that waits for the model; ``ahead``: questions before it in line."""
    if ahead:
        note = f"waiting for the model: {ahead} question{'s' if ahead != 1 else ''} ahead of yours"
    else:
        note = "waiting for the model; questions are answered one at a time"
    return (f'<div class="answer draft" aria-busy="true"><p class="answer-text">…</p>'
            f'<div class="meta" role="status">{note}</div></div>')


def error_html(message: str) -> str:
    return f'<div class="answer error" role="alert"><p class="answer-text">{esc(message)}</p></div>'


def turn_html(question: str, body: str) -> str:
    return f'<div class="turn"><div class="question"><p>{esc(question)}</p></div>{body}</div>'


def chat_html(turns: Sequence[str]) -> str:
    """The conversation; ``turns`` are already-rendered `turn_html` strings."""
    if not turns:
        return ('<div class="rag-chat"><div class="empty"><p><strong>Ask a question about the articles.</strong></p>'
                "<p>Answers cite the passages they come from: click a marker such as <span class=\"cite-demo\">[1]"
                "</span> to read the source. When the articles do not answer a question, the page says so.</p>"
                "</div></div>")
    return f'<div class="rag-chat">{"".join(turns)}</div>'


# -- side panel ----------------------------------------------------------------------------------
def sources_html(answer: Answer | None, titles: dict[str, str]) -> str:
    """The passages retrieved for the last answer, best first, with their scores and citation keys."""
    if answer is None:
        return ('<div class="rag-sources"><div class="panel-title">Sources</div>'
                '<p class="hint">The passages behind each answer appear here, best first.</p></div>')
    cited = {(c.doc_id, c.start, c.end): c.key for c in answer.citations}
    top = max((h.score for h in answer.hits), default=0.0) or 1.0
    items = []
    for rank, hit in enumerate(answer.hits, 1):
        chunk = hit.chunk
        key = cited.get((chunk.doc_id, chunk.start, chunk.end))
        badge = f'<span class="cited">cited [{esc(key)}]</span>' if key else ""
        items.append(
            f'<li class="passage{" is-cited" if key else ""}">'
            f'<div class="p-head"><span class="rank">{rank}</span><span class="doc">{esc(_title(chunk.doc_id, titles))}</span>{badge}</div>'
            f'<div class="p-score" title="fused score {hit.score:.4f}; cosine {hit.dense:.3f}; BM25 {hit.lexical:.2f}">'
            f'<span class="bar" style="width:{max(4, round(100 * hit.score / top))}%"></span>'
            f'<span class="num">score {hit.score:.3f}</span></div>'
            f'<p>{esc(chunk.readable)}</p><div class="p-doc">{_where(chunk.doc_id, chunk.page)}</div></li>'
        )
    heading = "Closest passages looked at" if answer.abstained else "Passages looked at, best first"
    listing = f'<ol>{"".join(items)}</ol>' if items else '<p class="hint">No passages were found.</p>'
    return (f'<div class="rag-sources"><div class="panel-title">{heading}</div>'
            f'<div class="asked">for “{esc(answer.read_as or answer.question)}”</div>{listing}</div>')


def library_html(documents: dict[str, str]) -> str:
    """A count of the indexed articles and their titles; a PDF's pages ("r#p1", "r#p2") are one article."""
    files: dict[str, tuple[str, int]] = {}  # file label -> (title, pages; 0 for a text file)
    for doc_id, title in sorted(documents.items()):
        page = _PDF_PAGE.match(doc_id)
        label = f"{page.group(1)}.pdf" if page else doc_id
        first_title, pages = files.get(label, (title, 0))
        files[label] = (first_title, pages + (1 if page else 0))
    rows = "".join(f"<li>{esc(title or label)} <code>{esc(label)}</code>"
                   f"{f' · {pages} page' + ('s' if pages != 1 else '') if pages else ''}</li>"
                   for label, (title, pages) in files.items())
    n = len(files)
    return (f'<div class="library"><details><summary>{n} article{"s" if n != 1 else ""} indexed</summary>'
            f"<ul>{rows}</ul></details></div>")


def report_html(report: IndexReport) -> str:
    """What an upload did: the files the index now holds, then each file left out and why.

    Built from `RAG.add_documents`' report (``files``: the uploaded names now indexed), so the
    page says what the index holds.
    """
    fresh = set(report.added) | set(report.changed)
    new = [n for n in report.files if n.rsplit(".", 1)[0] in fresh]
    same = [n for n in report.files if n not in new]
    lines = []
    if new:
        lines.append(f"Indexed {esc(', '.join(new))}: {report.embedded} passage{'s' if report.embedded != 1 else ''} "
                     f"embedded; {report.documents} articles in all. You can ask about {'them' if len(new) > 1 else 'it'} now.")
    if same:
        lines.append(f"Already indexed, unchanged: {esc(', '.join(same))}.")
    if not report.files:
        lines.append("Nothing was indexed.")
    skipped = "".join(f"<li>{esc(sentence)}</li>" for sentence in report.skipped)
    if skipped:
        lines.append(f'Not indexed:<ul class="skipped">{skipped}</ul>')
    kind = "upload-ok" if report.files else "upload-error"
    return f'<div class="{kind}" role="{"status" if report.files else "alert"}">{"<br>".join(lines)}</div>'


def upload_error_html(message: str) -> str:
    return f'<div class="upload-error" role="alert">{esc(message)}</div>'


CSS = """
.rag-chat { display: flex; flex-direction: column; gap: 14px; padding: 4px 2px; }
.rag-chat p { margin: 0; }
.rag-chat .empty { color: var(--body-text-color-subdued); padding: 18px; border: 1px dashed var(--border-color-primary);
  border-radius: 10px; line-height: 1.5; }
.rag-chat .empty p + p { margin-top: 6px; }
.cite-demo { color: var(--color-accent); font-weight: 600; }
.turn { display: flex; flex-direction: column; gap: 8px; }
.turn .question { align-self: flex-end; max-width: 85%; background: var(--color-accent-soft);
  border-radius: 12px 12px 2px 12px; padding: 8px 12px; }
.turn .answer { align-self: flex-start; max-width: 92%; background: var(--background-fill-secondary);
  border: 1px solid var(--border-color-primary); border-radius: 12px 12px 12px 2px; padding: 10px 12px; }
.answer .answer-text { font-size: 1.02em; line-height: 1.55; white-space: pre-wrap; }
.answer.draft .answer-text { color: var(--body-text-color-subdued); font-style: italic; }
.answer.error { border-color: #d97706; background: rgba(217, 119, 6, 0.08); }
.answer.mode-abstained .answer-text { font-weight: 600; }
.answer .meta { margin-top: 6px; font-size: 0.8em; color: var(--body-text-color-subdued); }
.answer .read-as { margin: 0 0 4px; font-size: 0.85em; color: var(--body-text-color-subdued); }
.answer .closest { margin-top: 8px; font-size: 0.9em; }
.answer .closest .label { font-weight: 600; font-size: 0.85em; color: var(--body-text-color-subdued); }
.panel-title { font-weight: 600; }
.answer .closest ol { margin: 4px 0 0 1.2em; padding: 0; }
.answer .closest li { margin: 3px 0; }
.doc { font-weight: 600; }
#chat button.cite { all: unset; cursor: pointer; color: var(--color-accent); font-weight: 700; padding: 0 2px;
  border-radius: 4px; font-style: normal; }
#chat button.cite:hover, #chat button.cite:focus-visible { background: var(--color-accent-soft); outline: 2px solid var(--color-accent); }
.source-pop { width: min(42rem, 92vw); max-height: 70vh; overflow: auto; padding: 14px 16px; border-radius: 10px;
  border: 1px solid var(--border-color-primary); background: var(--background-fill-primary); color: var(--body-text-color);
  box-shadow: 0 12px 40px rgba(0, 0, 0, 0.25); }
.source-pop::backdrop { background: rgba(0, 0, 0, 0.25); }
.pop-head { display: flex; align-items: baseline; gap: 8px; }
.pop-head .key { color: var(--color-accent); font-weight: 700; }
.pop-title { font-weight: 600; flex: 1; }
#chat .pop-close { all: unset; cursor: pointer; font-size: 1.3em; line-height: 1; padding: 0 4px; }
.pop-doc { font-size: 0.8em; color: var(--body-text-color-subdued); margin: 2px 0 8px; }
.pop-doc .page, .p-doc .page { font-weight: 600; color: var(--body-text-color); }
.pop-context p { margin: 0 0 8px; line-height: 1.55; }
#chat .pop-context p.around { color: var(--body-text-color-subdued); }
#chat .pop-context mark, #chat .rag-chat mark { background: #fde68a; color: #111; padding: 1px 2px; border-radius: 3px; }
.rag-sources .asked { font-size: 0.85em; color: var(--body-text-color-subdued); margin: 2px 0 8px; }
.rag-sources .hint { color: var(--body-text-color-subdued); font-size: 0.9em; }
#sources .rag-sources ol { list-style: none; margin: 0; padding: 0; display: flex; flex-direction: column; gap: 8px; }
#sources .rag-sources li.passage { border: 1px solid var(--border-color-primary); border-radius: 8px; padding: 8px 10px; margin: 0; }
.rag-sources li.is-cited { border-color: var(--color-accent); }
.rag-sources li p { margin: 4px 0 0; font-size: 0.9em; line-height: 1.45; }
.p-head { display: flex; gap: 6px; align-items: baseline; font-size: 0.9em; }
.p-head .rank { color: var(--body-text-color-subdued); }
.p-head .doc { flex: 1; }
.p-head .cited { color: var(--color-accent); font-weight: 700; white-space: nowrap; }
.p-score { position: relative; height: 16px; margin-top: 4px; background: var(--background-fill-secondary); border-radius: 4px; }
.p-score .bar { position: absolute; left: 0; top: 0; bottom: 0; background: var(--color-accent-soft); border-radius: 4px; }
.p-score .num { position: relative; font-size: 0.75em; padding-left: 6px; line-height: 16px; }
.p-doc, .library code { font-size: 0.75em; color: var(--body-text-color-subdued); }
.library summary { cursor: pointer; font-size: 0.9em; }
.library ul { font-size: 0.85em; margin: 4px 0 0 1em; }
.upload-ok, .upload-error { font-size: 0.9em; padding: 6px 8px; border-radius: 6px; }
.upload-ok { background: rgba(22, 163, 74, 0.10); }
.upload-error { background: rgba(217, 119, 6, 0.12); }
"""
