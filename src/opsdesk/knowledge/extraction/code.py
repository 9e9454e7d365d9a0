"""Source files: one code block per top-level stretch of lines, so a function or class tends to stay whole."""

from __future__ import annotations

from opsdesk.knowledge.extraction.types import Block, CharBudget


def parse_code(text: str, budget: CharBudget, *, lines_per_block: int) -> list[Block]:
    """Split source text at top-level boundaries (an unindented line after a blank one) into code blocks.

    Segments between boundaries are packed greedily up to ``lines_per_block`` lines; a longer segment is cut.
    """
    lines = [line.rstrip() for line in text.splitlines()]
    limit = max(1, lines_per_block)
    blocks: list[Block] = []
    current: list[str] = []
    for segment in _segments(lines):
        if current and len(current) + len(segment) > limit:
            _emit(current, blocks, budget)
            current = []
        while len(segment) > limit:
            _emit(segment[:limit], blocks, budget)
            segment = segment[limit:]
        current.extend(segment)
    _emit(current, blocks, budget)
    return blocks


def _segments(lines: list[str]) -> list[list[str]]:
    segments: list[list[str]] = []
    current: list[str] = []
    previous_blank = True
    for line in lines:
        top_level = bool(line) and not line[0].isspace() and not line.startswith(("}", ")", "]"))
        if top_level and previous_blank and current:
            segments.append(current)
            current = []
        current.append(line)
        previous_blank = not line.strip()
    if current:
        segments.append(current)
    return segments


def _emit(lines: list[str], blocks: list[Block], budget: CharBudget) -> None:
    body = "\n".join(lines).strip("\n")
    if body.strip():
        blocks.append(Block("code", budget.take(body)))
