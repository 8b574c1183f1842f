"""Domain errors. Raised inside the stages, translated to HTTP or CLI messages at the edges."""

from __future__ import annotations


class RagError(Exception):
    """Base class for every error this service raises on purpose."""


class InvalidQuestion(RagError):
    """The question is empty, too long or otherwise unusable."""


class InvalidFilter(RagError):
    """A filter names a value that is not in the index."""


class IndexNotFound(RagError):
    """No index exists at the configured place."""


class IndexCorrupt(RagError):
    """An index file is missing, truncated or unreadable."""


class IndexMismatch(RagError):
    """The stored index was built with other settings than the ones in use."""


class DocumentNotFound(RagError):
    """No document has the requested id."""


class SourceError(RagError):
    """A source file cannot be read; the message says why."""


class IndexPathRefused(RagError):
    """The index may not be written where asked: the place holds something else (files that are
    not an index this tool made, a source folder) or cannot be written. Nothing was changed."""


class IndexWriteFailed(RagError):
    """Writing the index failed part way (disk full, permissions); the previous one stays."""


class NothingIndexed(RagError):
    """Every source was skipped, so there is nothing to index."""


class EmbedderUnavailable(RagError):
    """The configured embedding model cannot be loaded."""


class ReloadFailed(RagError):
    """A requested reload failed; the index loaded before stays in service."""


class ConfigurationError(RagError):
    """A RAG_ environment variable is unknown or has a value its setting cannot take."""


class TopicsFileError(RagError):
    """The topics file cannot be read or lists no topic."""
