"""The errors `rag` raises on purpose.

Every one of them carries a message written for a person; the CLI and the chat page print
that sentence and nothing else. Anything that is not a ``RagError`` is a bug and keeps its
traceback.

    RagError
    ├── ConfigError        unknown setting, bad value
    ├── QuestionError      empty or over-long question
    ├── DocumentError      no readable documents to index
    ├── ModelError         model file missing or unloadable
    ├── EvalError          malformed gold-questions file
    └── RagIndexError      base for index problems
        ├── IndexMissingError   no index at that path
        ├── IndexCorruptError   truncated, edited or incomplete index files
        ├── IndexMismatchError  built by another embedder, chunker or format version
        └── StoreUnavailableError  the Milvus server cannot be reached, or its Lite file is in use
"""

from __future__ import annotations

REBUILD_HINT = "run `rag index --rebuild` to rebuild it"


class RagError(Exception):
    """Base class: a problem the user can act on, described in one sentence."""


class ConfigError(RagError):
    """A setting is unknown or has a value that cannot be used."""


class QuestionError(RagError):
    """The question is empty, whitespace or longer than the configured limit."""


class DocumentError(RagError):
    """No document could be read, so there is nothing to index."""


class ModelError(RagError):
    """A model file is missing or cannot be loaded."""


class EvalError(RagError):
    """The gold-questions file is malformed; the message names the entry and the problem."""


class RagIndexError(RagError):
    """Base class for problems with the index folder."""


class IndexMissingError(RagIndexError):
    """There is no index at the given path."""


class IndexCorruptError(RagIndexError):
    """Index files are truncated, edited or missing."""


class IndexMismatchError(RagIndexError):
    """The index was built with other settings than the ones in use."""


class StoreUnavailableError(RagIndexError):
    """The vector store (a Milvus server or Milvus Lite file) cannot be reached or opened right now."""
