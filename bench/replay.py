"""Replay the model's drafts: run `rag eval` with a generator that remembers what the LLM wrote.

Verification and quoting are pure functions of (question, passages, draft), so once the LLM has
answered a prompt, changes to the checks can be measured over every gold question in seconds:

    python bench/replay.py [rag eval arguments ...]      # e.g. --json eval/replay.json
    REPLAY_ONLY=1 python bench/replay.py ...             # a prompt never seen gets an empty draft

The cache (bench/out/drafts.jsonl) is keyed by the model, the exact rendered prompt and the
token budget; a prompt never seen is sent to the real model and remembered. Greedy decoding
makes a replayed draft the one the model would write again.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CACHE = ROOT / "bench" / "out" / "drafts.jsonl"


class ReplayGenerator:
    """Wraps a real generator; drafts already written for the same prompt are replayed."""

    def __init__(self, real, cache: Path = CACHE) -> None:
        self.real = real
        self.name = real.name
        self.family = getattr(real, "family", "qwen")
        self.cache = cache
        self._lock = threading.Lock()
        self._seen: dict[str, str] = {}
        self.hits = self.misses = 0
        if cache.is_file():
            for line in cache.read_text(encoding="utf-8").splitlines():
                row = json.loads(line)
                self._seen[row["key"]] = row["draft"]

    def __getattr__(self, name):  # render, count_tokens, gain, tokenize ... go to the real model
        return getattr(self.real, name)

    def _key(self, prompt, max_tokens: int) -> str:
        shots = [list(shot) for shot in getattr(prompt, "shots", ())]
        avoid = list(getattr(prompt, "avoid", ()))
        text = json.dumps([self.real.name, prompt.system, prompt.user, max_tokens] + ([shots] if shots else [])
                          + ([avoid] if avoid else []))
        return hashlib.sha256(text.encode()).hexdigest()

    def count_tokens(self, text: str) -> int:
        return self.real.count_tokens(text)

    def check(self, question: str, passage: str, answer: str) -> float:
        """The reader's check, remembered like the drafts (keyed by model, its prompts, question, passage, answer)."""
        from rag.generate import CHECK_EXAMPLES, CHECKS

        shown = [CHECKS] + ([CHECK_EXAMPLES] if getattr(self.real, "check_examples", False) else [])
        key = "check:" + hashlib.sha256(json.dumps([self.real.name, *shown, question, passage, answer]).encode()).hexdigest()
        with self._lock:
            seen = self._seen.get(key)
        if seen is not None:
            return float(seen)
        if os.environ.get("REPLAY_ONLY"):
            return 1.0
        value = self.real.check(question, passage, answer)
        self._remember(key, str(value), f"{question} || {answer}")
        return value

    def _remember(self, key: str, draft: str, note: str) -> None:
        with self._lock:
            self._seen[key] = draft
            self.cache.parent.mkdir(parents=True, exist_ok=True)
            with self.cache.open("a", encoding="utf-8") as out:
                out.write(json.dumps({"key": key, "model": self.real.name, "user": note[-300:], "draft": draft},
                                     ensure_ascii=False) + "\n")

    def generate(self, prompt, max_tokens: int) -> Iterator[str]:
        key = self._key(prompt, max_tokens)
        with self._lock:
            draft = self._seen.get(key)
        if draft is not None:
            self.hits += 1
            yield draft
            return
        self.misses += 1
        if os.environ.get("REPLAY_ONLY"):  # measuring on what is cached, without the model
            return
        pieces = []
        for piece in self.real.generate(prompt, max_tokens):
            pieces.append(piece)
            yield piece
        self._remember(key, "".join(pieces), prompt.user)


def main(argv: list[str]) -> int:
    from rag import RAG, cli, pipeline

    real_open = RAG.open.__func__

    def open_with_replay(cls, *args, **kwargs):
        rag = real_open(cls, *args, **kwargs)
        if kwargs.get("generator") is None:
            rag._generator = ReplayGenerator(rag.generator())
        return rag

    pipeline.RAG.open = classmethod(open_with_replay)
    return cli.main(["eval", *argv])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
