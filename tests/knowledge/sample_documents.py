"""Builders for real test documents, made at run time so no binaries live in the repository."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Sequence

import docx
import openpyxl
from fpdf import FPDF


def make_pdf(pages: list[list[tuple[str, str]]], *, title: str | None = None) -> bytes:
    """A PDF whose pages hold ("h1" | "h2" | "p", text) items; headings are set in larger bold type."""
    pdf = FPDF()
    if title:
        pdf.set_title(title)
    sizes = {"h1": 20, "h2": 15, "p": 11}
    for items in pages:
        pdf.add_page()
        for kind, text in items:
            pdf.set_font("Helvetica", "" if kind == "p" else "B", sizes[kind])
            pdf.multi_cell(0, sizes[kind] * 0.6, text, new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())


def make_docx() -> bytes:
    """A Word document with a title, headings, paragraphs, a bulleted list and a table."""
    document = docx.Document()
    document.add_heading("Travel policy", level=0)
    document.add_paragraph("This policy covers business travel for all staff.")
    document.add_heading("Booking", level=1)
    document.add_paragraph("Book flights through the travel desk at least 14 days ahead.")
    document.add_paragraph("Economy class for flights under 6 hours", style="List Bullet")
    document.add_paragraph("Business class needs a director's approval", style="List Bullet")
    document.add_heading("Allowances", level=2)
    table = document.add_table(rows=3, cols=2)
    cells = [("City", "Daily allowance"), ("London", "90 EUR"), ("Oslo", "110 EUR")]
    for row, (city, amount) in zip(table.rows, cells, strict=True):
        row.cells[0].text, row.cells[1].text = city, amount
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def make_xlsx(sheets: dict[str, Sequence[Sequence[object]]]) -> bytes:
    workbook = openpyxl.Workbook()
    workbook.remove(workbook.active)
    for name, rows in sheets.items():
        sheet = workbook.create_sheet(name)
        for row in rows:
            sheet.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def rezip(original: bytes, replace: dict[str, bytes] | None = None, add: dict[str, bytes] | None = None) -> bytes:
    """Copy a ZIP package, swapping or adding members (deflated)."""
    replace, add = replace or {}, add or {}
    source = zipfile.ZipFile(io.BytesIO(original))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            target.writestr(info.filename, replace.get(info.filename, source.read(info)), zipfile.ZIP_DEFLATED)
        for name, data in add.items():
            target.writestr(name, data, zipfile.ZIP_DEFLATED)
    return buffer.getvalue()


def zip_bomb_docx(padding_bytes: int) -> bytes:
    """A valid DOCX whose document.xml is padded with whitespace: tiny compressed, huge expanded."""
    original = make_docx()
    xml = zipfile.ZipFile(io.BytesIO(original)).read("word/document.xml")
    closing = xml.rindex(b"</w:document>")
    padded = xml[:closing] + b" " * padding_bytes + xml[closing:]
    return rezip(original, replace={"word/document.xml": padded})
