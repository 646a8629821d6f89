"""Fill the replay cache (bench/replay.py) with the reader's drafts for every gold question.

    python bench/collect.py [--part 0 --parts 2] [--questions FILE]

Run two parts with RAG_N_THREADS=1 side by side when the machine is shared: one-thread llama.cpp
does not stall waiting for a second core that another job holds.
"""

from __future__ import annotations

import argparse
import sys
import time

from replay import ReplayGenerator


def main() -> int:
    from rag import RAG
    from rag.evaluate import load_questions

    p = argparse.ArgumentParser()
    p.add_argument("--part", type=int, default=0)
    p.add_argument("--parts", type=int, default=1)
    p.add_argument("--questions", default="eval_questions.yaml")
    p.add_argument("--llm")
    args = p.parse_args()
    rag = RAG.open("index", llm=args.llm)
    rag._generator = ReplayGenerator(rag.generator())
    questions = load_questions(args.questions)[args.part::args.parts]
    started = time.time()
    for i, gold in enumerate(questions, 1):
        rag.ask(gold.question)
        print(f"{i}/{len(questions)} {gold.id} {time.time() - started:.0f}s misses={rag._generator.misses}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
