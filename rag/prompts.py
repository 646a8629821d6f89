"""Prompts that stay short by construction: numbered passages, each cut to a token budget.

The passage numbers are citation keys the program issued; whatever the model writes back
is checked in `rag.cite`, never trusted.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

from .types import Hit

ABSTAIN = "The articles do not say."

SYSTEM = (
    "You answer questions about news articles using only the numbered passages. "
    "Reply with one short sentence that copies the words of the passage that answers, "
    "then the passage number in brackets, like [2]. "
    f'If no passage answers the question, reply exactly: "{ABSTAIN}"'
)


@dataclass(frozen=True)
class Prompt:
    """A prompt in both shapes: chat messages for instruction-tuned models, plain text for base models."""

    system: str
    user: str
    keys: tuple[str, ...]  # citation keys in the order the passages were shown

    @property
    def messages(self) -> list[dict[str, str]]:
        return [{"role": "system", "content": self.system}, {"role": "user", "content": self.user}]

    @property
    def completion(self) -> str:
        """A few-shot frame a base model continues after "Answer:"."""
        return (
            "Answer each question with one sentence copied from the passages, then the passage number.\n\n"
            "Passages:\n[1] The ship sank near Malta on Monday.\n[2] Rescuers saved 40 people.\n"
            "Question: Where did the ship sink?\nAnswer: The ship sank near Malta [1].\n\n"
            f"{self.user}\nAnswer:"
        )


def build_prompt(question: str, hits: Sequence[Hit], titles: dict[str, str], budget: int,
                 count: Callable[[str], int] | None = None) -> Prompt:
    """Number the passages 1..k and cut each to ``budget`` tokens (words when no tokenizer)."""
    lines = []
    keys = []
    for i, hit in enumerate(hits, 1):
        key = str(i)
        keys.append(key)
        title = titles.get(hit.chunk.doc_id, "")
        text = _truncate(hit.chunk.readable, budget, count)
        lines.append(f"[{key}] ({title}) {text}" if title else f"[{key}] {text}")
    user = "Passages:\n" + "\n".join(lines) + f"\nQuestion: {question}"
    return Prompt(SYSTEM, user, tuple(keys))


def _truncate(text: str, budget: int, count: Callable[[str], int] | None) -> str:
    """Keep whole words while the text fits in ``budget`` tokens.

    _truncate("a b c d", 2, None) -> "a b …"
    """
    words = text.split()
    measure = count or (lambda s: len(s.split()))
    if measure(text) <= budget:
        return text
    lo, hi = 0, len(words)
    while lo < hi:  # the longest prefix that fits
        mid = (lo + hi + 1) // 2
        if measure(" ".join(words[:mid])) <= budget:
            lo = mid
        else:
            hi = mid - 1
    return " ".join(words[:lo]) + " …"
