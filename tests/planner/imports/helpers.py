"""Shared by the planner import tests: the fixture files, files built in memory, and one call per import."""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import Any

from openpyxl import Workbook
from sqlalchemy import func, select

from opsdesk.app.context import AppContext
from opsdesk.db.base import Base
from opsdesk.planner.imports.schemas import ImportKind, ImportOptions, ImportReport, UploadedFile
from opsdesk.planner.imports.service import import_files

DATA = Path(__file__).resolve().parents[2] / "data" / "planner"
TODAY = date(2025, 6, 30)  # the fixtures' sales end before it; "the future" is after it


def fixture(kind: ImportKind, name: str, mapping: dict[str, str] | None = None) -> UploadedFile:
    return UploadedFile(kind, name, (DATA / name).read_bytes(), mapping or {})


def csv_file(kind: ImportKind, rows: Sequence[Sequence[Any]], name: str = "upload.csv") -> UploadedFile:
    buffer = io.StringIO()
    csv.writer(buffer).writerows(rows)
    return UploadedFile(kind, name, buffer.getvalue().encode())


def xlsx_bytes(rows: Sequence[Sequence[Any]]) -> bytes:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    for row in rows:
        sheet.append(list(row))
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def xlsx_file(kind: ImportKind, rows: Sequence[Sequence[Any]], name: str = "upload.xlsx") -> UploadedFile:
    return UploadedFile(kind, name, xlsx_bytes(rows))


def csv_rows(name: str) -> list[list[str]]:
    with (DATA / name).open(newline="") as handle:
        return list(csv.reader(handle))


async def run(
    ctx: AppContext, workspace_id: uuid.UUID, *uploads: UploadedFile, dry_run: bool = False, **options: Any
) -> ImportReport:
    """Imports in a transaction of its own, as a request would, with TODAY as the clock."""
    async with ctx.db.session() as session:
        return await import_files(
            session,
            workspace_id,
            list(uploads),
            created_by="planner@acme.example",
            options=ImportOptions(**{"today": TODAY, **options}),
            dry_run=dry_run,
        )


async def count(ctx: AppContext, table: type[Base], workspace_id: uuid.UUID) -> int:
    async with ctx.db.session() as session:
        column = table.__table__.c.workspace_id  # type: ignore[attr-defined]
        return int(await session.scalar(select(func.count()).where(column == workspace_id)) or 0)


def codes(report: ImportReport, severity: str = "error") -> list[str]:
    return [problem.code for problem in report.problems if problem.severity == severity]
