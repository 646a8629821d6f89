"""`rag index` on a synthetic corpus of about N passages, in its own process (for its peak memory).

    .venv/bin/python bench/scale_index.py N CORPUS_DIR INDEX_DIR

Writes CORPUS_DIR (text files of made-up sentences, 200 passages each) if it is not there, then
runs rag.indexing.build_index with a stand-in embedder (a seeded random unit vector per text:
fast, so the run measures everything but the model) and prints "passages seconds text_MiB".
"""

import re
import sys
import time
import zlib
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

PASSAGES_PER_DOC = 200


class StandInEmbedder:
    """A deterministic unit vector per text; 384-d like all-MiniLM-L6-v2."""

    name = "bench-stand-in-384"
    dim = 384

    def embed(self, texts):
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        for i, text in enumerate(texts):
            out[i] = np.random.default_rng(zlib.crc32(text.encode())).standard_normal(self.dim, dtype=np.float32)
        return out / np.linalg.norm(out, axis=1, keepdims=True)


def write_corpus(folder: Path, passages: int) -> None:
    words = sorted(set(re.findall(r"[a-z]{3,}", " ".join(p.read_text() for p in (ROOT / "data" / "articles").iterdir()).lower())))
    rng = np.random.default_rng(0)
    folder.mkdir(parents=True, exist_ok=True)
    for d in range(max(1, passages // PASSAGES_PER_DOC)):
        sentences = []
        for _ in range(2 * PASSAGES_PER_DOC):
            picked = [words[i] for i in rng.integers(0, len(words), rng.integers(8, 16))]
            sentences.append(" ".join(picked).capitalize() + ".")
        paragraphs = [" ".join(sentences[i:i + 6]) for i in range(0, len(sentences), 6)]
        (folder / f"doc{d:05d}.txt").write_text("\n\n".join(paragraphs) + "\n")


def main() -> None:
    passages, corpus, index = int(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3])
    from rag import Config
    from rag.indexing import build_index

    if not corpus.is_dir():
        write_corpus(corpus, passages)
    config = Config.load({"docs_dir": str(corpus), "index_dir": str(index)})
    start = time.perf_counter()
    report = build_index(config, StandInEmbedder(), rebuild=True)
    elapsed = time.perf_counter() - start
    text_mb = sum(p.stat().st_size for p in corpus.iterdir()) / 2**20
    print(report.chunks, round(elapsed, 2), round(text_mb, 1))


if __name__ == "__main__":
    main()
