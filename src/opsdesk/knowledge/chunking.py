"""Structure-aware chunking: sections stay whole where they fit, big blocks split at natural boundaries.

Rules, in order of strength:

* every chunk fits ``max_tokens`` as counted by the pluggable ``count_tokens``;
* a heading of level 1 or 2 starts a new chunk, unless what came before is tiny (under ``min_tokens``) and the
  new heading is its subsection (a title followed by its first subsection stays together);
* a heading of level 3 or deeper starts a new chunk when the current one is at least half full;
* headings travel with the content that follows them, never ending a chunk;
* a block too big for one chunk splits on sentences (paragraphs), items (lists), lines (code) or rows (tables,
  with the header row repeated), and consecutive parts of one section share ``overlap_tokens`` of text.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from opsdesk.knowledge.extraction.types import Block, BlockKind, ExtractedDocument, Row, render_row, render_table

TokenCounter = Callable[[str], int]
SECTION_SEPARATOR = " > "


def estimate_tokens(text: str) -> int:
    """A cheap token estimate: about four characters or three quarters of a word per token, whichever is more."""
    if not text:
        return 0
    return max(math.ceil(len(text.split()) * 4 / 3), math.ceil(len(text) / 4))


@dataclass(frozen=True, slots=True)
class Chunk:
    """A piece of a document ready to embed and index; ``page`` is the first page it covers, if paginated."""

    text: str
    section_path: str
    page: int | None
    last_page: int | None
    ordinal: int
    token_count: int
    content_hash: str


@dataclass(frozen=True, slots=True)
class _Piece:
    text: str
    kind: BlockKind
    path: tuple[str, ...]
    page: int | None
    block: int
    level: int = 0
    continuation: bool = False
    sheet: str | None = None


def chunk_document(
    doc: ExtractedDocument,
    *,
    max_tokens: int = 256,
    overlap_tokens: int = 32,
    min_tokens: int | None = None,
    count_tokens: TokenCounter = estimate_tokens,
) -> list[Chunk]:
    """Split a document into ordered chunks that respect its structure (see the module docstring for the rules)."""
    if max_tokens < 1:
        raise ValueError("max_tokens must be at least 1")
    if not 0 <= overlap_tokens < max_tokens:
        raise ValueError("overlap_tokens must be at least 0 and less than max_tokens")
    tiny = max_tokens // 8 if min_tokens is None else min_tokens
    budget = max(1, max_tokens - overlap_tokens)
    pieces = _pieces(_merge_tables(doc.blocks), budget, count_tokens)
    groups = _Packer(max_tokens, overlap_tokens, tiny, count_tokens).pack(pieces)
    chunks = []
    for ordinal, group in enumerate(groups):
        text = _text_of(group)
        pages = [piece.page for piece in group if piece.page is not None]
        chunks.append(
            Chunk(
                text=text,
                section_path=SECTION_SEPARATOR.join(_section(group)),
                page=min(pages) if pages else None,
                last_page=max(pages) if pages else None,
                ordinal=ordinal,
                token_count=count_tokens(text),
                content_hash=hashlib.sha256(text.encode("utf-8")).hexdigest(),
            )
        )
    return chunks


# --- blocks to pieces that each fit the budget ------------------------------------------------------------------


def _merge_tables(blocks: Sequence[Block]) -> list[Block]:
    """Join consecutive table blocks of one table (same header, same sheet) so rows split once, evenly."""
    merged: list[Block] = []
    for block in blocks:
        previous = merged[-1] if merged else None
        if (
            previous is not None
            and block.kind == "table" == previous.kind
            and block.rows
            and previous.rows
            and block.rows[0] == previous.rows[0]
            and block.sheet == previous.sheet
        ):
            rows = (*previous.rows, *block.rows[1:])
            merged[-1] = replace(previous, rows=rows, text=render_table(rows))
        else:
            merged.append(block)
    return merged


def _pieces(blocks: Sequence[Block], budget: int, count: TokenCounter) -> list[_Piece]:
    pieces: list[_Piece] = []
    headings: list[tuple[int, str]] = []
    for index, block in enumerate(blocks):
        text = _tidy(render_table(block.rows) if block.kind == "table" and block.rows else block.text, block.kind)
        if not text:
            continue
        if block.kind == "heading" and count(text) <= budget:
            level = block.level or 1
            while headings and headings[-1][0] >= level:
                headings.pop()
            headings.append((level, " ".join(text.split())))
            path = tuple(title for _, title in headings)
            pieces.append(_Piece(text, "heading", path, block.page, index, level=level))
            continue
        path = tuple(title for _, title in headings) + ((block.sheet,) if block.sheet else ())
        parts = _split_block(block, text, budget, count)
        for number, part in enumerate(parts):
            kind: BlockKind = "paragraph" if block.kind == "heading" else block.kind
            pieces.append(_Piece(part, kind, path, block.page, index, continuation=number > 0, sheet=block.sheet))
    return pieces


def _split_block(block: Block, text: str, budget: int, count: TokenCounter) -> list[str]:
    if count(text) <= budget:
        return [text]
    if block.kind == "table":
        rows = block.rows or tuple((line,) for line in text.splitlines())
        return _split_table(rows, budget, count)
    if block.kind == "code":
        return _pack(_lines(text), budget, count, kind="code")
    if block.kind == "list":
        return _pack(_lines(text), budget, count)
    return _pack(_sentences(text), budget, count)


_SENTENCE_END = re.compile(r"(?<=[.!?])[\"')\]]*\s+|\n[ \t]*\n\s*")
_WORD = re.compile(r"\S+\s*")


def _sentences(text: str) -> list[str]:
    """Sentence-ish units that keep their trailing whitespace, so joining them restores the text."""
    units, start = [], 0
    for match in _SENTENCE_END.finditer(text):
        units.append(text[start : match.end()])
        start = match.end()
    if start < len(text):
        units.append(text[start:])
    return units


def _lines(text: str) -> list[str]:
    return text.splitlines(keepends=True)


def _tidy(text: str, kind: BlockKind) -> str:
    """Trim a part: code keeps its indentation, everything else loses surrounding whitespace."""
    return text.strip("\n").rstrip() if kind == "code" else text.strip()


def _pack(units: Sequence[str], budget: int, count: TokenCounter, *, kind: BlockKind = "paragraph") -> list[str]:
    """Greedily join units into parts of at most ``budget`` tokens; an oversized unit splits by lines, then words."""
    parts: list[str] = []
    current = ""
    for unit in units:
        if count(unit.strip()) > budget:
            if current.strip():
                parts.append(_tidy(current, kind))
            current = ""
            lines = _lines(unit)
            parts.extend(_pack(lines, budget, count, kind=kind) if len(lines) > 1 else _cut(unit, budget, count))
            continue
        candidate = current + unit
        if current.strip() and count(_tidy(candidate, kind)) > budget:
            parts.append(_tidy(current, kind))
            current = unit
        else:
            current = candidate
    if current.strip():
        parts.append(_tidy(current, kind))
    return parts


def _cut(text: str, budget: int, count: TokenCounter) -> list[str]:
    """Cut by words, and a word longer than the budget by characters."""
    parts: list[str] = []
    current = ""
    for word in _WORD.findall(text):
        if count(word.strip()) > budget:
            if current.strip():
                parts.append(current.strip())
            current = ""
            width = max(1, len(word) * budget // max(count(word), 1))
            while width > 1 and count(word[:width]) > budget:
                width = width * 3 // 4
            parts.extend(word[i : i + width].strip() for i in range(0, len(word.strip()), width))
            continue
        if current.strip() and count((current + word).strip()) > budget:
            parts.append(current.strip())
            current = word
        else:
            current += word
    if current.strip():
        parts.append(current.strip())
    return [part for part in parts if part]


def _split_table(rows: Sequence[Row], budget: int, count: TokenCounter) -> list[str]:
    """Rows packed into parts that each start with the header row."""
    header, body = render_row(rows[0]), [render_row(row) for row in rows[1:]]
    if not body:
        return _cut(header, budget, count)
    parts: list[str] = []
    current: list[str] = [header]
    for row in body:
        if count("\n".join((header, row))) > budget:
            if len(current) > 1:
                parts.append("\n".join(current))
            current = [header]
            parts.extend(_cut(f"{header}\n{row}", budget, count))
            continue
        if len(current) > 1 and count("\n".join((*current, row))) > budget:
            parts.append("\n".join(current))
            current = [header]
        current.append(row)
    if len(current) > 1:
        parts.append("\n".join(current))
    return parts


# --- pieces to chunks -----------------------------------------------------------------------------------------


class _Packer:
    def __init__(self, max_tokens: int, overlap_tokens: int, tiny: int, count: TokenCounter) -> None:
        self.max_tokens = max_tokens
        self.overlap_tokens = overlap_tokens
        self.tiny = tiny
        self.count = count
        self.groups: list[list[_Piece]] = []
        self.current: list[_Piece] = []

    def pack(self, pieces: Sequence[_Piece]) -> list[list[_Piece]]:
        for piece in pieces:
            if piece.kind == "heading":
                self._heading(piece)
            elif self._other_sheet(piece):
                self._flush()
                self.current.append(piece)
            elif piece.continuation or self._tokens([*self.current, piece]) > self.max_tokens:
                self._start_after(piece)
            else:
                self.current.append(piece)
        self._emit(self.current, final=True)
        return self.groups

    def _other_sheet(self, piece: _Piece) -> bool:
        """A new spreadsheet sheet is a new section, as a top-level heading would be."""
        content = [part for part in self.current if part.kind != "heading"]
        return bool(content) and content[-1].sheet != piece.sheet

    def _heading(self, piece: _Piece) -> None:
        size = self._tokens(self.current) if _has_content(self.current) else 0
        if piece.level <= 2:
            parent = piece.path[:-1]
            keep = size < self.tiny and _section(self.current) == parent[: len(_section(self.current))]
            if not keep:
                self._flush()
        elif size >= self.max_tokens // 2:
            self._flush()
        if self.current and self._tokens([*self.current, piece]) > self.max_tokens:
            self._flush()
        self.current.append(piece)

    def _start_after(self, piece: _Piece) -> None:
        """Close the current chunk before ``piece``; trailing headings move on, and same-section text overlaps."""
        carry: list[_Piece] = []
        while self.current and self.current[-1].kind == "heading":
            carry.insert(0, self.current.pop())
        previous = self.current
        self._emit(previous)
        self.current = []
        overlap = self._overlap(previous, piece) if not carry else None
        candidate = [*([overlap] if overlap else []), *carry, piece]
        if self._tokens(candidate) > self.max_tokens and overlap is not None:
            candidate = [*carry, piece]
        if carry and self._tokens(candidate) > self.max_tokens:
            candidate = [piece]  # headings longer than the room left: rare, and they stay in the section path
        self.current = candidate

    def _overlap(self, previous: list[_Piece], piece: _Piece) -> _Piece | None:
        if not self.overlap_tokens or not previous:
            return None
        last = previous[-1]
        if last.path != piece.path or last.kind not in ("paragraph", "list", "code"):
            return None
        units = _lines(last.text) if last.kind in ("list", "code") else _sentences(last.text)
        tail = ""
        for unit in reversed(units):
            if self.count((unit + tail).strip()) > self.overlap_tokens:
                break
            tail = unit + tail
        if not tail.strip():
            words = _WORD.findall(last.text)
            for word in reversed(words):
                if self.count((word + tail).strip()) > self.overlap_tokens:
                    break
                tail = word + tail
        tail = _tidy(tail, last.kind)
        if not tail.strip():
            return None
        return replace(last, text=tail, continuation=False)

    def _flush(self) -> None:
        self._emit(self.current)
        self.current = []

    def _emit(self, group: list[_Piece], *, final: bool = False) -> None:
        if _has_content(group) or (final and group and not self.groups):
            self.groups.append(list(group))

    def _tokens(self, group: Sequence[_Piece]) -> int:
        return self.count(_text_of(group)) if group else 0


def _has_content(group: Sequence[_Piece]) -> bool:
    return any(piece.kind != "heading" for piece in group)


def _section(group: Sequence[_Piece]) -> tuple[str, ...]:
    """The longest section path shared by the group's content (or, without content, by its headings)."""
    paths = [piece.path for piece in group if piece.kind != "heading"] or [piece.path for piece in group]
    if not paths:
        return ()
    common = paths[0]
    for path in paths[1:]:
        size = 0
        while size < min(len(common), len(path)) and common[size] == path[size]:
            size += 1
        common = common[:size]
    return common


def _text_of(group: Sequence[_Piece]) -> str:
    """Pieces joined: parts of one block by a newline or space, different blocks by a blank line."""
    text = ""
    previous: _Piece | None = None
    for piece in group:
        if previous is None:
            text = piece.text
        elif piece.block == previous.block:
            text += ("\n" if piece.kind in ("list", "code", "table") else " ") + piece.text
        else:
            text += "\n\n" + piece.text
        previous = piece
    return text
