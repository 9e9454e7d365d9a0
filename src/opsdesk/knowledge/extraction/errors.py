"""Why a document could not be turned into text; each error carries a message fit to show the uploader."""

from __future__ import annotations

from opsdesk.core.errors import InvalidInput


class ExtractionError(InvalidInput):
    """Base of every refusal or failure while reading a document."""

    status_code = 422
    error_type = "extraction_error"


class UnsupportedDocument(ExtractionError):
    """The file is of a type opsdesk does not read (the message names the type)."""

    status_code = 415
    error_type = "unsupported_document"


class CorruptDocument(ExtractionError):
    """The file claims a supported type but cannot be parsed."""

    error_type = "corrupt_document"


class EmptyDocument(ExtractionError):
    """The file holds no text worth indexing."""

    error_type = "empty_document"


class DocumentTooLarge(ExtractionError):
    """The file, its page count or its extracted text exceeds a configured limit."""

    status_code = 413
    error_type = "document_too_large"


class SuspiciousArchive(ExtractionError):
    """A ZIP-based document whose members would expand beyond safe limits (a zip bomb)."""

    error_type = "suspicious_archive"
