"""One prompt per model family, short by construction: numbered passages, each cut to a token budget.

Instruction-tuned models get chat messages (rendered by the model's own chat template);
the base Gemma gets a few-shot frame it continues after "Answer:". The passage numbers are
citation keys the program issued; whatever the model writes back is checked in `rag.verify`,
never trusted.

Measured on Qwen2.5 (READER-NOTES): labels like "[1]" make it answer with nothing but "[1]",
"Passage 1:" makes it write a sentence; told to reply "The articles do not say." it abstains on
most answerable questions, so abstention stays the program's decision, taken on evidence.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from .types import Hit

ABSTAIN = "The articles do not say."

QWEN_SYSTEM = "You answer questions about news articles, using only the passages you are given."
QWEN_ASK = "Answer in one short sentence using only the passages, and cite the passage number."

SMOLLM_SYSTEM = (
    "You answer questions about news articles using only the numbered passages. "
    "Reply with a short answer copied from the passage that answers, then the passage number in brackets, "
    f'like: 40 people [2]. If no passage answers the question, reply exactly: "{ABSTAIN}"'
)

GEMMA_FEW_SHOT = """Answer the question with a short phrase copied from the passages, then the passage number. \
If the passages do not contain the answer, write: not stated.

Passages:
[1] The ship sank near Malta on Monday, the coast guard said.
[2] Rescuers saved 40 people from the water.
Question: How many people were rescued?
Answer: 40 people [2]

Passages:
[1] The mayor opened the new bridge on Friday.
[2] The bridge links the two halves of the old town.
Question: How long is the new bridge?
Answer: not stated

"""


@dataclass(frozen=True)
class Prompt:
    """A prompt in both shapes: chat messages for instruction-tuned models, plain text for base models."""

    system: str
    user: str
    keys: tuple[str, ...]  # citation keys in the order the passages were shown
    shots: tuple[tuple[str, str], ...] = ()  # worked examples, (user, assistant), shown as earlier chat turns
    avoid: tuple[str, ...] = ()  # words barred from the reply by their first token, e.g. ("Passage",)

    @property
    def messages(self) -> list[dict[str, str]]:
        examples = [{"role": role, "content": text} for shot in self.shots
                    for role, text in zip(("user", "assistant"), shot)]
        return [{"role": "system", "content": self.system}, *examples, {"role": "user", "content": self.user}]

    @property
    def completion(self) -> str:
        return f"{GEMMA_FEW_SHOT}{self.user}\nAnswer:"


def build_prompt(question: str, hits: Sequence[Hit], budget: int, count: Callable[[str], int] | None = None,
                 family: str = "qwen") -> Prompt:
    """Number the passages 1..k for ``family`` and cut each to ``budget`` tokens (words when no tokenizer)."""
    keys = tuple(str(i) for i in range(1, len(hits) + 1))
    texts = [_truncate(hit.chunk.readable, budget, count) for hit in hits]
    if family == "qwen":
        passages = "\n\n".join(f"Passage {key}: {text}" for key, text in zip(keys, texts))
        return Prompt(QWEN_SYSTEM, f"{passages}\n\nQuestion: {question}\n{QWEN_ASK}", keys)
    passages = "\n".join(f"[{key}] {text}" for key, text in zip(keys, texts))
    return Prompt(SMOLLM_SYSTEM, f"Passages:\n{passages}\nQuestion: {question}", keys)


def insist(prompt: Prompt) -> Prompt:
    """``prompt`` again, with the word "Passage" barred from the reply: for a reader whose whole answer
    was "Passage 1". Asked once more in the same chat it said "Passage 1" again (3 of 4 times)."""
    return replace(prompt, avoid=("Passage",))


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
