"""How `rag eval`'s figures are shown: the summary's columns and cells, and the HTML page of `--report`.

The page (summary, charts, latency histogram, failures) is self-contained: charts are PNGs
embedded as data URIs; every piece of text is escaped. The console table (rag/cli.py) uses the
same columns and cells.
"""

from __future__ import annotations

import base64
import html
import io
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

from .figures import figure

# The summary's columns in order, and their short console headings.
COLUMNS = ("questions", "answer_accuracy", "abstention_accuracy", "false_abstentions", "citation_precision",
           "citation_recall", "recall_at_k", "mrr", "latency_p50_ms", "latency_p95_ms")
SHORT = {"questions": "n", "answer_accuracy": "answer acc", "abstention_accuracy": "abstain acc",
         "false_abstentions": "false abst", "citation_precision": "cite prec", "citation_recall": "cite recall",
         "recall_at_k": "recall@k", "mrr": "MRR", "latency_p50_ms": "p50 ms", "latency_p95_ms": "p95 ms"}
_METRICS = ("answer_accuracy", "abstention_accuracy", "citation_precision", "citation_recall", "recall_at_k", "mrr")


class ScoredQuestion(Protocol):
    """What the page reads of one scored question (rag.evaluate.Scored is one)."""

    gold: Any  # id, type, question, answerable, answers, evidence
    record: dict[str, Any]  # the question's JSON contract
    scores: dict[str, Any]

    def failed(self) -> bool: ...


def columns(table: dict[str, dict[str, Any]]) -> list[str]:
    """The columns that some row of the summary has a figure for, in COLUMNS order."""
    return [c for c in COLUMNS if any(c in row for row in table.values())]


def cell(row: dict[str, Any], column: str) -> str:
    """One figure of a summary row as text: "–" where it has none, whole milliseconds for timings."""
    return figure(row.get(column), 0 if column.endswith("_ms") else None)


def _png(fig) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def _charts(table: dict[str, dict[str, Any]], results: Sequence[ScoredQuestion]) -> list[tuple[str, str]]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    charts = []
    kinds = [k for k in table if k != "all"]
    for metric in _METRICS:
        values = [(k, table[k].get(metric)) for k in kinds if table[k].get(metric) is not None]
        if not values:
            continue
        fig, ax = plt.subplots(figsize=(4.2, 2.6))
        ax.bar([k for k, _ in values], [v for _, v in values], color="#3b7dd8")
        ax.set_ylim(0, 1.05)
        ax.set_title(metric.replace("_", " "))
        ax.tick_params(axis="x", labelrotation=30, labelsize=8)
        overall = table["all"].get(metric)
        if overall is not None:
            ax.axhline(overall, color="#d83b3b", linestyle="--", linewidth=1, label=f"all {overall:.2f}")
            ax.legend(fontsize=7, loc="lower right")
        charts.append((metric, _png(fig)))
        plt.close(fig)
    latencies = [r.scores["latency_ms"] / 1000 for r in results]
    fig, ax = plt.subplots(figsize=(4.2, 2.6))
    ax.hist(latencies, bins=min(20, max(5, len(latencies) // 3)), color="#5aa469")
    ax.set_title("latency per question")
    ax.set_xlabel("seconds")
    ax.set_ylabel("questions")
    charts.append(("latency", _png(fig)))
    plt.close(fig)
    return charts


def _failure(r: ScoredQuestion) -> str:
    e = html.escape
    rec, gold = r.record, r.gold
    cites = "".join(f"<li>[{e(c['key'])}] {e(c['doc_id'])} {c['start']}–{c['end']}: “{e(c['text'])}”</li>"
                    for c in rec.get("citations", [])) or "<li><em>none</em></li>"
    if gold.answerable:
        expected = f"answers: {e(', '.join(gold.answers))}<br>evidence: " + "; ".join(
            f"{e(d)}: “{e(q)}”" for d, q in gold.evidence)
    else:
        expected = "an abstention (the articles do not say)"
    problems = ", ".join(k for k, v in r.scores.items() if v is False) or "—"
    return (f"<div class='fail'><h3>{e(gold.id)} <span class='type'>{e(gold.type)}</span> — {e(gold.question)}</h3>"
            f"<p><b>answer:</b> {e(rec.get('answer', ''))}</p><p><b>failed:</b> {e(problems)}</p>"
            f"<p><b>citations:</b></p><ul>{cites}</ul><p><b>gold:</b> {expected}</p></div>")


def write_report(path: str | Path, table: dict[str, dict[str, Any]], results: Sequence[ScoredQuestion],
                 title: str = "") -> Path:
    """Write the page for ``table`` (rag.evaluate.summary_table of ``results``) to ``path``."""
    e = html.escape
    shown = columns(table)
    head = "".join(f"<th>{e(c.replace('_', ' '))}</th>" for c in shown)
    rows = "".join(
        f"<tr><td>{e(kind)}</td>" + "".join(f"<td>{e(cell(row, c))}</td>" for c in shown) + "</tr>"
        for kind, row in table.items()
    )
    charts = "".join(f"<figure><img alt='{e(name)}' src='{src}'></figure>" for name, src in _charts(table, results))
    failures = [r for r in results if r.failed()]
    body = "".join(_failure(r) for r in failures) or "<p>No failures.</p>"
    page = f"""<!doctype html><html><head><meta charset="utf-8"><title>rag eval report</title>
<style>body{{font-family:system-ui,sans-serif;margin:2em;max-width:1200px;color:#222}}
table{{border-collapse:collapse}}td,th{{border:1px solid #ccc;padding:4px 8px;text-align:right}}
td:first-child{{text-align:left;font-weight:600}}figure{{display:inline-block;margin:6px}}
.fail{{border-left:4px solid #d83b3b;padding:2px 12px;margin:12px 0;background:#fafafa}}
.type{{font-size:.8em;color:#666;font-weight:normal}}</style></head><body>
<h1>rag eval report</h1><p>{e(title)} — {len(results)} questions, {len(failures)} with a failure.</p>
<h2>Summary</h2><table><tr><th>type</th>{head}</tr>{rows}</table>
<h2>Per question type</h2>{charts}
<h2>Failures</h2>{body}</body></html>"""
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(page, encoding="utf-8")
    return out
