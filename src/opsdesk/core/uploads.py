"""Reading an uploaded file without ever holding more than its limit in memory."""

from __future__ import annotations

from fastapi import UploadFile

from opsdesk.core.errors import PayloadTooLarge


async def read_upload(upload: UploadFile, limit: int, *, what: str = "The file") -> bytes:
    """The file's bytes; 413 `file_too_large` when it holds more than `limit` (one byte past it is read to tell)."""
    data = await upload.read(limit + 1)
    if len(data) > limit:
        raise PayloadTooLarge(f"{what} is larger than the upload limit of {limit:,} bytes.", code="file_too_large")
    return data
