"""rag: cited answers over a folder of news articles, offline.

    from rag import RAG
    rag = RAG.open("index")                 # or RAG.build("data/articles", "index")
    answer = rag.ask("Who killed Hamedani?")
    answer.text, answer.abstained, answer.citations
    for piece in rag.stream("Where did the Russian missiles crash?"):
        ...                                 # str drafts, then the verified Answer last

Every citation is a (doc_id, start, end, text) span of the original file, checked against
the answer before it is shown. Errors the user can act on are `RagError`s.
"""

from .config import MAX_K, Config
from .documents import SUFFIXES as DOCUMENT_SUFFIXES
from .documents import TYPES as DOCUMENT_TYPES
from .embed import Embedder
from .errors import (
    ConfigError,
    DocumentError,
    EvalError,
    IndexCorruptError,
    IndexMismatchError,
    IndexMissingError,
    ModelError,
    QuestionError,
    RagError,
    RagIndexError,
    StoreUnavailableError,
)
from .generate import Generator
from .indexing import IndexReport
from .models import PACKAGED as PACKAGED_MODELS
from .pipeline import RAG
from .prompts import ABSTAIN
from .types import Answer, Chunk, Citation, Document, Hit, Timings

PACKAGED_LLMS = tuple(PACKAGED_MODELS)  # the names RAG_LLM takes besides a .gguf path

__all__ = [
    "ABSTAIN",
    "Answer",
    "Chunk",
    "Citation",
    "Config",
    "ConfigError",
    "DOCUMENT_SUFFIXES",
    "DOCUMENT_TYPES",
    "Document",
    "DocumentError",
    "Embedder",
    "EvalError",
    "Generator",
    "Hit",
    "IndexCorruptError",
    "IndexMismatchError",
    "IndexMissingError",
    "IndexReport",
    "MAX_K",
    "ModelError",
    "PACKAGED_LLMS",
    "QuestionError",
    "RAG",
    "RagError",
    "RagIndexError",
    "StoreUnavailableError",
    "Timings",
]
__version__ = "0.1.0"
