"""Turn uploaded bytes into structured text blocks, safely: limits first, then type detection, then parsing."""

from __future__ import annotations

from opsdesk.knowledge.extraction.code import parse_code
from opsdesk.knowledge.extraction.detect import code_language, detect_type, file_extension, media_type
from opsdesk.knowledge.extraction.errors import (
    CorruptDocument,
    DocumentTooLarge,
    EmptyDocument,
    ExtractionError,
    SuspiciousArchive,
    UnsupportedDocument,
)
from opsdesk.knowledge.extraction.html import parse_html
from opsdesk.knowledge.extraction.office import parse_docx, parse_xlsx
from opsdesk.knowledge.extraction.pdf import parse_pdf
from opsdesk.knowledge.extraction.text import (
    decode_text,
    parse_csv,
    parse_json,
    parse_markdown,
    parse_plain_text,
    title_from_filename,
)
from opsdesk.knowledge.extraction.types import Block, CharBudget, DocType, ExtractedDocument, ExtractionLimits

__all__ = [
    "Block",
    "CorruptDocument",
    "DocType",
    "DocumentTooLarge",
    "EmptyDocument",
    "ExtractedDocument",
    "ExtractionError",
    "ExtractionLimits",
    "SuspiciousArchive",
    "UnsupportedDocument",
    "detect_type",
    "extract",
]


def extract(
    data: bytes, filename: str, content_type: str | None, limits: ExtractionLimits | None = None
) -> ExtractedDocument:
    """Read a document into ordered blocks, or raise an ExtractionError subclass saying why it cannot be read."""
    limits = limits or ExtractionLimits()
    if len(data) > limits.max_bytes:
        raise DocumentTooLarge(f"The file is {len(data):,} bytes, more than the limit of {limits.max_bytes:,} bytes.")
    if not data.strip():
        raise EmptyDocument("The file is empty.")
    doc_type = detect_type(data, filename, content_type)
    metadata: dict[str, str] = {}
    try:
        blocks, title = _parse(doc_type, data, filename, content_type, limits, metadata)
    except (ExtractionError, MemoryError):
        raise
    except Exception as exc:  # a parser bug or a hostile file must surface as a clear, catchable error
        raise CorruptDocument(f"The {_label(doc_type)} file could not be read ({type(exc).__name__}).") from exc

    blocks = [block for block in blocks if block.text.strip()]
    if not blocks:
        hint = " (a scanned PDF needs OCR first)" if doc_type == "pdf" else ""
        raise EmptyDocument(f"The {_label(doc_type)} file contains no text{hint}.")
    return ExtractedDocument(
        title=(title or title_from_filename(filename)).strip(), doc_type=doc_type, blocks=blocks, metadata=metadata
    )


def _parse(
    doc_type: DocType,
    data: bytes,
    filename: str,
    content_type: str | None,
    limits: ExtractionLimits,
    metadata: dict[str, str],
) -> tuple[list[Block], str | None]:
    budget = CharBudget(limits.max_chars)
    charset = _charset(content_type)
    if doc_type == "pdf":
        blocks, title, pages = parse_pdf(data, budget, limits)
        metadata["pages"] = str(pages)
        return blocks, title
    if doc_type == "docx":
        return parse_docx(data, budget, limits)
    if doc_type == "xlsx":
        blocks, title, sheets = parse_xlsx(data, budget, limits)
        metadata["sheets"] = str(len(sheets))
        return blocks, title
    if doc_type == "html":
        return parse_html(data, budget, charset=charset, rows_per_block=limits.table_rows_per_block)
    text = decode_text(data, charset)
    if doc_type == "md":
        return parse_markdown(text, budget)
    if doc_type == "json":
        return parse_json(text, budget)
    if doc_type == "csv":
        tab = file_extension(filename) == "tsv" or media_type(content_type) == "text/tab-separated-values"
        return parse_csv(text, budget, rows_per_block=limits.table_rows_per_block, tab_separated=tab), None
    if doc_type == "code":
        metadata["language"] = code_language(filename) or "text"
        path = filename.replace("\\", "/").strip("/")
        return parse_code(text, budget, lines_per_block=limits.code_lines_per_block), path or None
    return parse_plain_text(text, budget, rst=file_extension(filename) == "rst")


def _charset(content_type: str | None) -> str | None:
    for parameter in (content_type or "").split(";")[1:]:
        name, _, value = parameter.partition("=")
        if name.strip().lower() == "charset" and value.strip():
            return value.strip().strip("\"'")
    return None


def _label(doc_type: DocType) -> str:
    return {"md": "Markdown", "txt": "text", "code": "source"}.get(doc_type, doc_type.upper())
