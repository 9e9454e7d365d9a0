"""The shape of an extracted document: a title, a type and ordered structural blocks."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from opsdesk.knowledge.extraction.errors import DocumentTooLarge

DocType = Literal["md", "txt", "html", "pdf", "docx", "xlsx", "csv", "json", "code"]
BlockKind = Literal["heading", "paragraph", "table", "code", "list"]

Row = tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Block:
    """One structural unit of a document, in reading order.

    ``level`` is set for headings (1 is the top), ``page`` for PDFs (1-based), ``sheet`` for spreadsheets and
    ``rows`` for tables (the first row is the header).
    """

    kind: BlockKind
    text: str
    level: int | None = None
    page: int | None = None
    sheet: str | None = None
    rows: tuple[Row, ...] | None = None


@dataclass(frozen=True, slots=True)
class ExtractedDocument:
    """A document reduced to text blocks; ``metadata`` holds small facts such as a page count or a language."""

    title: str
    doc_type: DocType
    blocks: list[Block]
    metadata: dict[str, str] = field(default_factory=dict)

    @property
    def text(self) -> str:
        """All block texts joined by blank lines."""
        return "\n\n".join(block.text for block in self.blocks)


@dataclass(frozen=True, slots=True)
class ExtractionLimits:
    """Safety limits and block sizes; the defaults suit uploads of ordinary office documents."""

    max_bytes: int = 50 * 1024 * 1024
    max_chars: int = 5_000_000
    max_pages: int = 2_000
    max_zip_members: int = 10_000
    max_uncompressed_bytes: int = 300 * 1024 * 1024
    max_compression_ratio: float = 100.0
    max_cells: int = 2_000_000
    table_rows_per_block: int = 50
    code_lines_per_block: int = 60


def render_row(row: Sequence[str]) -> str:
    """One table row as text: cells separated by `` | ``."""
    return " | ".join(cell.replace("\n", " ").strip() for cell in row)


def render_table(rows: Sequence[Sequence[str]]) -> str:
    """Table rows as lines of text, header first."""
    return "\n".join(render_row(row) for row in rows)


def table_blocks(rows: Sequence[Row], *, rows_per_block: int, sheet: str | None = None) -> list[Block]:
    """Split a table (header first) into blocks of at most ``rows_per_block`` data rows, each repeating the header."""
    if not rows:
        return []
    header, body = rows[0], rows[1:]
    if not body:
        return [Block("table", render_row(header), sheet=sheet, rows=(header,))]
    step = max(1, rows_per_block)
    blocks = []
    for start in range(0, len(body), step):
        part = (header, *body[start : start + step])
        blocks.append(Block("table", render_table(part), sheet=sheet, rows=part))
    return blocks


class CharBudget:
    """Counts extracted characters and refuses to go past ``limit`` (checked while reading, not after)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.used = 0

    def take(self, text: str) -> str:
        self.used += len(text)
        if self.used > self.limit:
            raise DocumentTooLarge(f"The document's text is longer than the limit of {self.limit:,} characters.")
        return text
