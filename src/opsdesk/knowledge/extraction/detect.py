"""Decide what kind of document a file is: magic bytes first, then the file name, then the declared content type."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import PurePosixPath

from opsdesk.knowledge.extraction.errors import CorruptDocument, UnsupportedDocument
from opsdesk.knowledge.extraction.types import DocType

# Signatures of common files we do not read, so the refusal can say what the file is.
_FOREIGN_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF87a", "a GIF image"),
    (b"GIF89a", "a GIF image"),
    (b"II*\x00", "a TIFF image"),
    (b"MM\x00*", "a TIFF image"),
    (b"\x7fELF", "an ELF executable"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "a legacy or password-protected Microsoft Office file (.doc, .xls, .ppt)"),
    (b"\x1f\x8b", "a gzip archive"),
    (b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive"),
    (b"Rar!\x1a\x07", "a RAR archive"),
    (b"RIFF", "a RIFF media file (WAV, AVI or WebP)"),
    (b"ID3", "an MP3 audio file"),
    (b"OggS", "an Ogg media file"),
    (b"fLaC", "a FLAC audio file"),
    (b"%!PS", "a PostScript file"),
    (b"{\\rtf", "an RTF document"),
    (b"SQLite format 3\x00", "an SQLite database"),
)

_EXTENSIONS: dict[str, DocType] = {
    "md": "md",
    "markdown": "md",
    "mdx": "md",
    "txt": "txt",
    "text": "txt",
    "rst": "txt",
    "log": "txt",
    "html": "html",
    "htm": "html",
    "xhtml": "html",
    "pdf": "pdf",
    "docx": "docx",
    "xlsx": "xlsx",
    "csv": "csv",
    "tsv": "csv",
    "json": "json",
}

# Source and configuration files read as code (one code block per top-level stretch of lines).
CODE_LANGUAGES: dict[str, str] = {
    "py": "python",
    "pyi": "python",
    "js": "javascript",
    "mjs": "javascript",
    "cjs": "javascript",
    "jsx": "javascript",
    "ts": "typescript",
    "tsx": "typescript",
    "go": "go",
    "java": "java",
    "kt": "kotlin",
    "scala": "scala",
    "rs": "rust",
    "c": "c",
    "h": "c",
    "cc": "cpp",
    "cpp": "cpp",
    "cxx": "cpp",
    "hpp": "cpp",
    "cs": "csharp",
    "rb": "ruby",
    "php": "php",
    "swift": "swift",
    "sql": "sql",
    "sh": "shell",
    "bash": "shell",
    "zsh": "shell",
    "ps1": "powershell",
    "yaml": "yaml",
    "yml": "yaml",
    "toml": "toml",
    "ini": "ini",
    "cfg": "ini",
    "xml": "xml",
    "css": "css",
    "scss": "scss",
    "proto": "protobuf",
    "tf": "terraform",
    "lua": "lua",
    "r": "r",
}
CODE_FILENAMES: dict[str, str] = {"dockerfile": "dockerfile", "makefile": "make", "jenkinsfile": "groovy"}

_CONTENT_TYPES: dict[str, DocType] = {
    "text/markdown": "md",
    "text/x-markdown": "md",
    "text/plain": "txt",
    "text/html": "html",
    "application/xhtml+xml": "html",
    "application/pdf": "pdf",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": "docx",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": "xlsx",
    "text/csv": "csv",
    "text/tab-separated-values": "csv",
    "application/json": "json",
    "text/json": "json",
}

_OOXML_MAIN_TYPES: tuple[tuple[str, DocType | str], ...] = (
    ("application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml", "docx"),
    ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml", "xlsx"),
    ("application/vnd.ms-word.document.macroEnabled.main+xml", "a macro-enabled Word document (.docm)"),
    ("application/vnd.ms-excel.sheet.macroEnabled.main+xml", "a macro-enabled Excel workbook (.xlsm)"),
    ("presentationml", "a PowerPoint presentation (.pptx)"),
    ("wordprocessingml.template", "a Word template (.dotx)"),
    ("spreadsheetml.template", "an Excel template (.xltx)"),
)
_MAX_CONTENT_TYPES_BYTES = 1024 * 1024
_TEXT_TYPES: frozenset[DocType] = frozenset({"md", "txt", "html", "csv", "json", "code"})


def file_extension(filename: str) -> str:
    """The lower-case extension of a file name without the dot ('' when there is none)."""
    return PurePosixPath(filename.replace("\\", "/")).suffix.lower().lstrip(".")


def code_language(filename: str) -> str | None:
    """The language of a source file judged by its name, or None when it is not code we read."""
    name = PurePosixPath(filename.replace("\\", "/")).name.lower()
    return CODE_FILENAMES.get(name) or CODE_LANGUAGES.get(file_extension(filename))


def media_type(content_type: str | None) -> str:
    """The bare media type of a Content-Type header value, lower-cased ('' when absent)."""
    return (content_type or "").split(";", 1)[0].strip().lower()


def looks_binary(data: bytes) -> bool:
    """True when the start of the data holds NUL bytes and no UTF-16/32 byte-order mark explains them."""
    head = data[:8192]
    if head.startswith((b"\xff\xfe", b"\xfe\xff", b"\x00\x00\xfe\xff")):
        return False
    return b"\x00" in head


def detect_type(data: bytes, filename: str, content_type: str | None) -> DocType:
    """The document type of a file, or UnsupportedDocument/CorruptDocument saying why it cannot be read."""
    head = data[:1024]
    declared_pdf = file_extension(filename) == "pdf" or media_type(content_type) == "application/pdf"
    # Readers accept the header anywhere in the first KB; a text file merely mentioning it must stay text.
    if head.lstrip().startswith(b"%PDF-") or (declared_pdf and b"%PDF-" in head):
        return "pdf"
    if data.startswith(b"PK\x03\x04") or data.startswith(b"PK\x05\x06"):
        return _zip_type(data, filename)
    _refuse_foreign_magic(data)

    extension = file_extension(filename)
    declared = _EXTENSIONS.get(extension)
    if declared is None and code_language(filename):
        declared = "code"
    if declared is None:
        declared = _from_content_type(content_type)
    if declared is None and extension:
        raise UnsupportedDocument(f"Files of type '.{extension}' are not supported.")
    if declared in ("pdf", "docx", "xlsx"):
        raise CorruptDocument(
            f"The file is declared as {declared.upper()} but its content is not a {declared.upper()}."
        )
    if looks_binary(data):
        raise UnsupportedDocument("The file holds binary data of an unrecognised type, not text.")
    return declared or _sniff_text(data)


def _refuse_foreign_magic(data: bytes) -> None:
    for magic, description in _FOREIGN_MAGIC:
        if data.startswith(magic):
            raise UnsupportedDocument(f"The file is {description}, which is not a supported document type.")
    if data.startswith(b"MZ") and b"\x00" in data[:64]:
        raise UnsupportedDocument("The file is a Windows executable, which is not a supported document type.")
    if data[4:8] == b"ftyp":
        raise UnsupportedDocument("The file is an MP4/MOV/HEIC media file, which is not a supported document type.")


def _from_content_type(content_type: str | None) -> DocType | None:
    kind = media_type(content_type)
    if kind in _CONTENT_TYPES:
        return _CONTENT_TYPES[kind]
    if kind.endswith("+json"):
        return "json"
    return None


def _sniff_text(data: bytes) -> DocType:
    start = data[:512].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if start.startswith((b"<!doctype html", b"<html")):
        return "html"
    if start[:1] in (b"{", b"["):
        try:
            json.loads(data)
        except ValueError:
            return "txt"
        return "json"
    return "txt"


def _zip_type(data: bytes, filename: str) -> DocType:
    """Tell DOCX from XLSX by the package's [Content_Types].xml; only that small member is decompressed here."""
    extension = file_extension(filename)
    expected = extension.upper() if extension in ("docx", "xlsx") else "ZIP"
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            try:
                info = archive.getinfo("[Content_Types].xml")
            except KeyError:
                info = None
            if info is None:
                if extension in ("docx", "xlsx"):
                    raise CorruptDocument(f"The file is not a valid {expected} document (no [Content_Types].xml).")
                if "mimetype" in archive.namelist():
                    raise UnsupportedDocument(
                        "The file is an OpenDocument file (.odt/.ods); save it as .docx or .xlsx."
                    )
                raise UnsupportedDocument("The file is a ZIP archive, which is not a supported document type.")
            if info.file_size > _MAX_CONTENT_TYPES_BYTES:
                raise CorruptDocument(f"The file is not a valid {expected} document (oversized content types).")
            manifest = archive.read(info).decode("utf-8", errors="replace")
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, NotImplementedError, ValueError) as exc:
        raise CorruptDocument(
            f"The file is not a valid {expected} document: the ZIP container is damaged ({exc})."
        ) from exc
    for marker, kind in _OOXML_MAIN_TYPES:
        if marker in manifest:
            if kind in ("docx", "xlsx"):
                return "docx" if kind == "docx" else "xlsx"
            raise UnsupportedDocument(f"The file is {kind}, which is not a supported document type.")
    raise UnsupportedDocument("The file is an Office package of an unsupported kind.")


def is_text_type(doc_type: DocType) -> bool:
    """True for types whose bytes are decoded as text before parsing."""
    return doc_type in _TEXT_TYPES
