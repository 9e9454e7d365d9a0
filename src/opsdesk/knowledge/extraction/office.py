"""Word (DOCX) and Excel (XLSX) documents, each checked by the zip-bomb guard before its library opens it."""

from __future__ import annotations

import datetime as dt
import io
from typing import Any

from opsdesk.knowledge.extraction.archive import check_archive
from opsdesk.knowledge.extraction.errors import CorruptDocument, DocumentTooLarge, ExtractionError
from opsdesk.knowledge.extraction.types import Block, CharBudget, ExtractionLimits, Row, render_row, table_blocks

_LIST_STYLE_PREFIXES = ("list", "bullet", "number")


def parse_docx(data: bytes, budget: CharBudget, limits: ExtractionLimits) -> tuple[list[Block], str | None]:
    """Paragraphs, heading styles as headings, list styles as lists and tables as table blocks, in body order."""
    check_archive(data, limits, kind="DOCX")
    try:
        import docx
        from docx.table import Table

        document = docx.Document(io.BytesIO(data))
        blocks: list[Block] = []
        title: str | None = (document.core_properties.title or "").strip() or None
        pending_list: list[str] = []

        def flush_list() -> None:
            if pending_list:
                blocks.append(Block("list", budget.take("\n".join(pending_list))))
                pending_list.clear()

        for item in document.iter_inner_content():
            if isinstance(item, Table):
                flush_list()
                rows = _docx_rows(item)
                for block in table_blocks(rows, rows_per_block=limits.table_rows_per_block):
                    budget.take(block.text)
                    blocks.append(block)
                continue
            text = item.text.strip()
            if not text:
                continue
            style = _style_name(item)
            level = _heading_level(style)
            if level is not None:
                flush_list()
                blocks.append(Block("heading", budget.take(text), level=level))
                if title is None and style == "title":
                    title = text
            elif style.startswith(_LIST_STYLE_PREFIXES) or _is_numbered(item):
                pending_list.append(f"- {text}")
            else:
                flush_list()
                blocks.append(Block("paragraph", budget.take(text)))
        flush_list()
    except ExtractionError:
        raise
    except Exception as exc:
        raise CorruptDocument(f"The DOCX file could not be read: {_reason(exc)}.") from exc
    return blocks, title


def _style_name(paragraph: Any) -> str:
    style = paragraph.style
    return (style.name or "").strip().lower() if style is not None else ""


def _heading_level(style: str) -> int | None:
    if style == "title":
        return 1
    if style.startswith("heading"):
        digits = style.removeprefix("heading").strip()
        return min(int(digits), 6) if digits.isdigit() and int(digits) > 0 else 1
    return None


def _is_numbered(paragraph: Any) -> bool:
    properties = paragraph._p.pPr
    return properties is not None and properties.numPr is not None


def _docx_rows(table: Any) -> list[Row]:
    rows: list[Row] = []
    for row in table.rows:
        cells: list[str] = []
        previous = None
        for cell in row.cells:
            if cell._tc is previous:  # a horizontally merged cell repeats; keep it once
                continue
            previous = cell._tc
            cells.append(" ".join(cell.text.split()))
        if any(cells):
            rows.append(tuple(cells))
    return rows


def parse_xlsx(data: bytes, budget: CharBudget, limits: ExtractionLimits) -> tuple[list[Block], str | None, list[str]]:
    """One table per sheet (split into blocks of rows, header repeated); returns blocks, title and sheet names."""
    check_archive(data, limits, kind="XLSX")
    try:
        import openpyxl

        workbook = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except ExtractionError:
        raise
    except Exception as exc:
        raise CorruptDocument(f"The XLSX file could not be read: {_reason(exc)}.") from exc
    try:
        title = (workbook.properties.title or "").strip() or None
        blocks: list[Block] = []
        names: list[str] = []
        cells = 0
        for sheet in workbook.worksheets:
            names.append(sheet.title)
            if hasattr(sheet, "reset_dimensions"):
                sheet.reset_dimensions()  # a forged dimension tag must not pad every row to 16,384 columns
            rows: list[Row] = []
            for values in sheet.iter_rows(values_only=True):
                cells += len(values)
                if cells > limits.max_cells:
                    raise DocumentTooLarge(f"The workbook has more than the limit of {limits.max_cells:,} cells.")
                row = _trim(tuple(_cell_text(value) for value in values))
                if row:
                    budget.take(render_row(row))
                    rows.append(row)
            blocks.extend(table_blocks(rows, rows_per_block=limits.table_rows_per_block, sheet=sheet.title))
    except ExtractionError:
        raise
    except Exception as exc:
        raise CorruptDocument(f"The XLSX file could not be read: {_reason(exc)}.") from exc
    finally:
        workbook.close()
    return blocks, title, names


def _trim(row: Row) -> Row:
    end = len(row)
    while end and not row[end - 1]:
        end -= 1
    return row[:end]


def _cell_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() and abs(value) < 1e15 else str(value)
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time() else value.isoformat(sep=" ")
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    return str(value).strip()


def _reason(exc: Exception) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text if len(text) <= 200 else text[:200] + "…"
