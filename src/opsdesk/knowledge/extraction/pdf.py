"""PDF documents: text per page with pypdf; headings guessed from font sizes gathered in the same pass."""

from __future__ import annotations

import io
import logging
import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from opsdesk.knowledge.extraction.errors import CorruptDocument, DocumentTooLarge, ExtractionError, UnsupportedDocument
from opsdesk.knowledge.extraction.types import Block, CharBudget, ExtractionLimits

# A line counts as a heading when its font is this much larger than the body text and the line is short.
_HEADING_SCALE = 1.15
_HEADING_MAX_CHARS = 120
_MAX_HEADING_LEVELS = 3


@dataclass(frozen=True, slots=True)
class _Line:
    text: str
    size: float
    page: int


def parse_pdf(data: bytes, budget: CharBudget, limits: ExtractionLimits) -> tuple[list[Block], str | None, int]:
    """Blocks with page numbers, the document title (metadata or first heading) and the page count."""
    logging.getLogger("pypdf").setLevel(logging.ERROR)  # damaged files are reported by our errors, not pypdf's log
    try:
        from pypdf import PdfReader

        reader = PdfReader(io.BytesIO(data), strict=False)
        if reader.is_encrypted and not _decrypt(reader):
            raise UnsupportedDocument("The PDF is password-protected; upload an unprotected copy.")
        page_count = len(reader.pages)
        if page_count == 0:
            raise CorruptDocument("The PDF has no pages.")
        if page_count > limits.max_pages:
            raise DocumentTooLarge(f"The PDF has {page_count:,} pages, more than the limit of {limits.max_pages:,}.")
        lines: list[_Line] = []
        for number, page in enumerate(reader.pages, 1):
            lines.extend(_page_lines(page, number, budget))
        metadata_title = _metadata_title(reader)
    except ExtractionError:
        raise
    except Exception as exc:
        reason = str(exc).strip() or type(exc).__name__
        raise CorruptDocument(f"The PDF could not be read: {reason[:200]}.") from exc
    blocks = _to_blocks(lines)
    first_heading = next((block.text for block in blocks if block.kind == "heading"), None)
    return blocks, metadata_title or first_heading, page_count


def _decrypt(reader: Any) -> bool:
    """Open PDFs that are encrypted with an empty user password (common for 'no copying' flags)."""
    try:
        return bool(reader.decrypt(""))
    except Exception:
        return False


def _metadata_title(reader: Any) -> str | None:
    try:
        title = reader.metadata.title if reader.metadata is not None else None
    except Exception:
        return None
    if isinstance(title, str) and title.strip() and title.strip().lower() not in ("untitled", "microsoft word"):
        return " ".join(title.split())[:300]
    return None


def _page_lines(page: Any, number: int, budget: CharBudget) -> list[_Line]:
    """The page's lines with the largest effective font size seen on each line."""
    lines: list[_Line] = []
    current: list[str] = []
    size = 0.0

    def end_line() -> None:
        nonlocal size
        text = " ".join("".join(current).split())
        if text:
            lines.append(_Line(budget.take(text), round(size * 2) / 2, number))
        current.clear()
        size = 0.0

    def visit(text: str, cm: Sequence[float], tm: Sequence[float], _font: Any, font_size: float) -> None:
        nonlocal size
        if not text:
            return
        scale = math.hypot(tm[2], tm[3]) * math.hypot(cm[2], cm[3]) if tm and cm else 1.0
        effective = abs(font_size or 0.0) * (scale or 1.0)
        parts = text.split("\n")
        for index, part in enumerate(parts):
            if index:
                end_line()
            if part.strip():
                current.append(part)
                size = max(size, effective)
            elif part:
                current.append(" ")

    text = page.extract_text(visitor_text=visit) or ""
    end_line()
    if not lines and text.strip():  # no visitor output: keep the text, give up on headings
        lines = [_Line(budget.take(line.strip()), 0.0, number) for line in text.splitlines() if line.strip()]
    return lines


def _to_blocks(lines: list[_Line]) -> list[Block]:
    levels = _heading_levels(lines)
    blocks: list[Block] = []
    paragraph: list[_Line] = []

    def flush() -> None:
        if paragraph:
            blocks.append(Block("paragraph", _join_lines(paragraph), page=paragraph[0].page))
            paragraph.clear()

    for line in lines:
        level = levels.get(line.size) if len(line.text) <= _HEADING_MAX_CHARS else None
        if level is not None and any(char.isalpha() for char in line.text):
            flush()
            blocks.append(Block("heading", line.text, level=level, page=line.page))
            continue
        if paragraph and paragraph[-1].page != line.page:
            flush()
        paragraph.append(line)
    flush()
    return blocks


def _heading_levels(lines: list[_Line]) -> dict[float, int]:
    """Font sizes clearly larger than the body size, largest first, mapped to heading levels 1-3."""
    weights: Counter[float] = Counter()
    for line in lines:
        weights[line.size] += len(line.text)
    if not weights:
        return {}
    body = weights.most_common(1)[0][0]
    if body <= 0:
        return {}
    larger = sorted((size for size in weights if size >= body * _HEADING_SCALE), reverse=True)
    return {size: index + 1 for index, size in enumerate(larger[:_MAX_HEADING_LEVELS])}


def _join_lines(lines: list[_Line]) -> str:
    """Lines of one paragraph, re-joining words hyphenated across a line break."""
    parts: list[str] = []
    for line in lines:
        if parts and parts[-1].endswith("-") and line.text[:1].islower():
            parts[-1] = parts[-1][:-1] + line.text
        else:
            parts.append(line.text)
    return "\n".join(parts)
