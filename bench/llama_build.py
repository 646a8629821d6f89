"""How fast the installed llama-cpp-python build evaluates a prompt and decodes, on the default reader.

The Makefile compiles llama.cpp for the CPU it runs on (AVX-512 where /proc/cpuinfo lists it,
never GGML_NATIVE). To compare two builds, run this once with each on the import path:

    python bench/llama_build.py                       # the build in .venv
    PYTHONPATH=/tmp/avx2 python bench/llama_build.py  # e.g. one built with CMAKE_ARGS=-DGGML_NATIVE=OFF alone

The prompt is the first ~270 tokens of a seed article and a question (the size of a reader's
prompt), evaluated afresh each time (the cache reset), then 24 greedy tokens. Medians of 4 runs.
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> int:
    import llama_cpp

    from rag import models
    from rag.config import Config

    config = Config.load()
    info = llama_cpp.llama_print_system_info().decode()
    print(f"llama_cpp {llama_cpp.__version__} from {Path(llama_cpp.__file__).parent}")
    print(" | ".join(flag for flag in info.split(" | ") if flag.endswith("= 1")))
    llm = llama_cpp.Llama(models.resolve(config.llm, config.cache_dir), n_ctx=2048, n_threads=config.n_threads,
                          n_threads_batch=config.n_threads, n_batch=512, seed=0, verbose=False)
    article = sorted((ROOT / "data" / "articles").iterdir())[0].read_text(encoding="utf-8", errors="replace")
    prompt = llm.detokenize(llm.tokenize(article.encode())[:270]).decode(errors="replace")
    prompt += "\nQuestion: Who killed Hamedani?\nAnswer:"
    firsts, totals, rates, text = [], [], [], ""
    for _ in range(4):
        llm.reset()
        start, first, text, pieces = time.perf_counter(), 0.0, "", 0
        for chunk in llm.create_completion(prompt, max_tokens=24, temperature=0.0, stream=True):
            first = first or time.perf_counter() - start
            text += chunk["choices"][0]["text"]
            pieces += 1
        total = time.perf_counter() - start
        firsts.append(first)
        totals.append(total)
        rates.append((pieces - 1) / (total - first))  # the tokens after the first, over the time after it
    first, total = statistics.median(firsts), statistics.median(totals)
    print(f"{config.llm}, {config.n_threads} threads, {len(llm.tokenize(prompt.encode()))} prompt tokens: "
          f"first token {first:.2f} s, whole call {total:.2f} s, decode {statistics.median(rates):.1f} tok/s")
    print(f"text: {text!r}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
