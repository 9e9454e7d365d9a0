"""The zip-bomb guard for ZIP-based documents, run before any Office library touches the file."""

from __future__ import annotations

import io
import zipfile

from opsdesk.knowledge.extraction.errors import CorruptDocument, SuspiciousArchive
from opsdesk.knowledge.extraction.types import ExtractionLimits

# Small members compress extremely well when they are mostly markup; the ratio rule applies above this size.
_RATIO_FLOOR_BYTES = 1024 * 1024


def check_archive(data: bytes, limits: ExtractionLimits, *, kind: str) -> None:
    """Refuse a ZIP whose member count, total expanded size or compression ratio exceeds ``limits``.

    The sizes come from the central directory and are trustworthy enough: Python's zipfile stops a member's
    output at its declared size and fails its CRC check when the data would expand further, so a member that
    lies about its size cannot expand past what was checked here.
    """
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            members = archive.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, ValueError) as exc:
        raise CorruptDocument(f"The {kind} file is damaged: its ZIP container cannot be read ({exc}).") from exc
    if len(members) > limits.max_zip_members:
        raise SuspiciousArchive(
            f"The {kind} file holds {len(members):,} parts, more than the limit of {limits.max_zip_members:,}."
        )
    total = sum(member.file_size for member in members)
    if total > limits.max_uncompressed_bytes:
        raise SuspiciousArchive(
            f"The {kind} file would expand to {total:,} bytes, more than the limit of "
            f"{limits.max_uncompressed_bytes:,}; it looks like a zip bomb."
        )
    for member in members:
        if member.file_size <= _RATIO_FLOOR_BYTES:
            continue
        ratio = member.file_size / max(member.compress_size, 1)
        if ratio > limits.max_compression_ratio:
            raise SuspiciousArchive(
                f"The {kind} file's part '{member.filename}' expands {ratio:,.0f} times (limit "
                f"{limits.max_compression_ratio:,.0f}); it looks like a zip bomb."
            )
    compressed = sum(member.compress_size for member in members)
    if total > _RATIO_FLOOR_BYTES and total / max(compressed, 1) > limits.max_compression_ratio:
        raise SuspiciousArchive(
            f"The {kind} file expands {total / max(compressed, 1):,.0f} times overall (limit "
            f"{limits.max_compression_ratio:,.0f}); it looks like a zip bomb."
        )
