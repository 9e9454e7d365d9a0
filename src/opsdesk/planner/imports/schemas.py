"""What an import takes and what its report says (row, column, problem), for the service, the API and the CLI."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import date
from typing import Literal

from pydantic import BaseModel, Field

ImportKind = Literal["items", "inventory", "sales", "market", "allocations", "feedback", "on_order"]
DateOrder = Literal["dmy", "mdy"]
Severity = Literal["error", "warning"]
DEFAULT_MAX_BYTES = 20 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class UploadedFile:
    """One file of an import; ``mapping`` (header → field, "" to ignore a column) overrides the guessed mapping."""

    kind: ImportKind
    file_name: str
    data: bytes
    mapping: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ImportOptions:
    """How to read ambiguous input; ``today`` decides which dates are in the future (the caller's clock)."""

    max_bytes: int = DEFAULT_MAX_BYTES
    date_order: DateOrder | None = None  # how to read 03/04/2025 when the file itself does not tell
    snapshot_date: date | None = None  # for inventory files without a snapshot date column
    today: date | None = None
    strict_columns: bool = False  # unknown columns are errors instead of warnings


class ImportProblem(BaseModel):
    file_name: str = ""
    row: int = Field(description="The spreadsheet row (the header is row 1); 0 means the file as a whole.")
    column: str = Field(default="", description="The column as headed in the file ('' when the problem is not one).")
    problem: str
    code: str = Field(description="A stable name for the problem, e.g. 'negative_quantity', 'future_date'.")
    severity: Severity = Field(default="error", description="Errors stop the import; warnings are for reading.")


class ColumnUse(BaseModel):
    column: str = Field(description="The header as written in the file.")
    field: str = Field(description="The planner field its cells were read as.")


class FileReport(BaseModel):
    kind: ImportKind
    file_name: str
    sha256: str
    rows: int = Field(default=0, description="Data rows read (blank rows are not counted).")
    mapping: list[ColumnUse] = Field(default_factory=list)
    unknown_columns: list[str] = Field(default_factory=list, description="Headers that match no field: not read.")
    missing_columns: list[str] = Field(default_factory=list, description="Required fields no header gave.")
    date_format: str | None = Field(default=None, description="How the file's dates were read ('ISO', 'd/m/Y' …).")
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    already_imported: bool = Field(default=False, description="The same content was imported before as this kind.")
    import_id: uuid.UUID | None = Field(default=None, description="The import record (the earlier one when repeated).")


class ImportReport(BaseModel):
    files: list[FileReport]
    problems: list[ImportProblem] = Field(default_factory=list, description="Errors first, then warnings.")
    applied: bool = Field(description="True when the rows were written (never on dry_run or with any error).")
    dry_run: bool = False
    message: str = ""

    @property
    def errors(self) -> list[ImportProblem]:
        return [problem for problem in self.problems if problem.severity == "error"]

    @property
    def warnings(self) -> list[ImportProblem]:
        return [problem for problem in self.problems if problem.severity == "warning"]
