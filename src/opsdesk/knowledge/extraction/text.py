"""Plain-text formats: decoding, markdown, plain text (with reStructuredText headings), CSV and JSON."""

from __future__ import annotations

import codecs
import csv
import io
import json
import re
from collections.abc import Iterator
from pathlib import PurePosixPath
from typing import Any

from opsdesk.knowledge.extraction.errors import CorruptDocument
from opsdesk.knowledge.extraction.types import Block, CharBudget, Row, table_blocks

_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
_WESTERN = ("cp1252", "latin_1", "iso8859_15")


def title_from_filename(filename: str) -> str:
    """A readable fallback title: the file name without folders and extension."""
    stem = PurePosixPath(filename.replace("\\", "/")).stem.strip()
    return stem or "Untitled"


def decode_text(data: bytes, charset: str | None = None) -> str:
    """Bytes to text: a byte-order mark, then the declared charset, UTF-8, a detected charset, and latin-1 last."""
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            return data.decode(encoding, errors="replace")
    if charset:
        try:
            return data.decode(charset)
        except (LookupError, UnicodeDecodeError):
            pass
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    guessed = _guess_charset(data)
    return guessed if guessed is not None else data.decode("latin-1")


def _guess_charset(data: bytes) -> str | None:
    """Decode with charset_normalizer's best guess, when that optional package is installed."""
    try:
        from charset_normalizer import from_bytes
    except ImportError:  # pragma: no cover - depends on the environment
        return None
    matches = list(from_bytes(data))
    if not matches:
        return None
    best = matches[0]
    # Ties are common between Western code pages; the most widespread one is the better bet.
    for match in matches:
        if match.encoding in _WESTERN and match.chaos <= best.chaos and match.coherence >= best.coherence:
            return str(match)
    return str(best)


# --- markdown -----------------------------------------------------------------------------------------------------

_ATX = re.compile(r"^ {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$")
_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})(.*)$")
_SETEXT = re.compile(r"^ {0,3}(=+|-+)[ \t]*$")
_BREAK = re.compile(r"^ {0,3}([-*_])(?:[ \t]*\1){2,}[ \t]*$")
_LIST_ITEM = re.compile(r"^ {0,3}(?:[-*+]|\d{1,9}[.)])(?:[ \t]+|$)")
_TABLE_RULE = re.compile(r"^ {0,3}\|?[ \t]*:?-+:?[ \t]*(?:\|[ \t]*:?-+:?[ \t]*)*\|?[ \t]*$")
_FRONT_TITLE = re.compile(r"^title:\s*(.+?)\s*$", re.MULTILINE)


def parse_markdown(text: str, budget: CharBudget) -> tuple[list[Block], str | None]:
    """Markdown to blocks (ATX and setext headings, fenced code, lists, pipe tables, paragraphs) and a title."""
    text, front_title = _strip_front_matter(text)
    lines = text.splitlines()
    blocks: list[Block] = []
    paragraph: list[str] = []

    def flush() -> None:
        if paragraph:
            body = "\n".join(paragraph).strip()
            if body:
                blocks.append(Block("paragraph", budget.take(body)))
            paragraph.clear()

    i = 0
    while i < len(lines):
        line = lines[i]
        fence = _FENCE.match(line)
        if fence and not (fence.group(1)[0] == "`" and "`" in fence.group(2)):
            flush()
            i = _read_fence(lines, i, fence.group(1), blocks, budget)
            continue
        heading = _ATX.match(line)
        if heading:
            flush()
            title = (heading.group(2) or "").strip()
            if title:
                blocks.append(Block("heading", budget.take(title), level=len(heading.group(1))))
            i += 1
            continue
        setext = _SETEXT.match(line)
        if setext and paragraph:
            title = " ".join(part.strip() for part in paragraph)
            paragraph.clear()
            blocks.append(Block("heading", budget.take(title), level=1 if setext.group(1)[0] == "=" else 2))
            i += 1
            continue
        if not line.strip() or _BREAK.match(line):
            flush()
            i += 1
            continue
        if "|" in line and i + 1 < len(lines) and _TABLE_RULE.match(lines[i + 1]) and "-" in lines[i + 1]:
            flush()
            i = _read_pipe_table(lines, i, blocks, budget)
            continue
        if _LIST_ITEM.match(line):
            flush()
            i = _read_list(lines, i, blocks, budget)
            continue
        paragraph.append(line)
        i += 1
    flush()
    title = front_title or _first_heading(blocks)
    return blocks, title


def _strip_front_matter(text: str) -> tuple[str, str | None]:
    if not text.startswith("---\n") and not text.startswith("---\r\n"):
        return text, None
    end = text.find("\n---", 4)
    if end == -1 or end > 8192:
        return text, None
    header = text[4:end]
    match = _FRONT_TITLE.search(header)
    rest = text[end + 4 :].split("\n", 1)
    body = rest[1] if len(rest) > 1 else ""
    title = match.group(1).strip("'\"") if match else None
    return body, title or None


def _read_fence(lines: list[str], start: int, opener: str, blocks: list[Block], budget: CharBudget) -> int:
    closing = re.compile(rf"^ {{0,3}}{re.escape(opener[0])}{{{len(opener)},}}[ \t]*$")
    body: list[str] = []
    i = start + 1
    while i < len(lines) and not closing.match(lines[i]):
        body.append(lines[i])
        i += 1
    code = "\n".join(body).strip("\n")
    if code.strip():
        blocks.append(Block("code", budget.take(code)))
    return i + 1


def _split_pipe_row(line: str) -> Row:
    inner = line.strip()
    if inner.startswith("|"):
        inner = inner[1:]
    if inner.endswith("|") and not inner.endswith("\\|"):
        inner = inner[:-1]
    cells = re.split(r"(?<!\\)\|", inner)
    return tuple(cell.strip().replace("\\|", "|") for cell in cells)


def _read_pipe_table(lines: list[str], start: int, blocks: list[Block], budget: CharBudget) -> int:
    rows: list[Row] = [_split_pipe_row(lines[start])]
    i = start + 2
    while i < len(lines) and lines[i].strip() and "|" in lines[i]:
        rows.append(_split_pipe_row(lines[i]))
        i += 1
    for block in table_blocks(rows, rows_per_block=10**9):
        budget.take(block.text)
        blocks.append(block)
    return i


def _read_list(lines: list[str], start: int, blocks: list[Block], budget: CharBudget) -> int:
    items: list[str] = []
    i = start
    while i < len(lines):
        line = lines[i]
        if not line.strip():
            following = lines[i + 1] if i + 1 < len(lines) else ""
            if following.strip() and (_LIST_ITEM.match(following) or following[:1] in (" ", "\t")):
                i += 1
                continue
            break
        lazy = items and not _LIST_ITEM.match(line) and line[:1] not in (" ", "\t")
        if lazy and (_ATX.match(line) or _FENCE.match(line) or _BREAK.match(line)):
            break
        items.append(line.rstrip())
        i += 1
    blocks.append(Block("list", budget.take("\n".join(items).strip("\n"))))
    return i


def _first_heading(blocks: list[Block]) -> str | None:
    headings = [block for block in blocks if block.kind == "heading"]
    top = [block for block in headings if block.level == 1]
    chosen = top[0] if top else (headings[0] if headings else None)
    return chosen.text if chosen else None


# --- plain text and reStructuredText ---------------------------------------------------------------------------

_RST_ADORNMENT = re.compile(r"^([=\-~^\"'`#*+:._])\1{2,}\s*$")


def parse_plain_text(text: str, budget: CharBudget, *, rst: bool = False) -> tuple[list[Block], str | None]:
    """Paragraphs separated by blank lines; with ``rst`` also section titles underlined with punctuation."""
    blocks: list[Block] = []
    styles: list[tuple[str, bool]] = []
    paragraph: list[str] = []

    def flush() -> None:
        body = "\n".join(paragraph).strip()
        if body:
            blocks.append(Block("paragraph", budget.take(body)))
        paragraph.clear()

    lines = text.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        if rst:
            heading = _rst_heading(lines, i)
            if heading is not None:
                title, style, consumed = heading
                flush()
                if style not in styles:
                    styles.append(style)
                blocks.append(Block("heading", budget.take(title), level=min(styles.index(style) + 1, 6)))
                i += consumed
                continue
        if line.strip():
            paragraph.append(line.rstrip())
        else:
            flush()
        i += 1
    flush()
    return blocks, _first_heading(blocks)


def _rst_heading(lines: list[str], i: int) -> tuple[str, tuple[str, bool], int] | None:
    """A title underlined (and optionally overlined) with one punctuation character, as (title, style, lines)."""
    over = _RST_ADORNMENT.match(lines[i])
    if over and i + 2 < len(lines):
        under = _RST_ADORNMENT.match(lines[i + 2])
        title = lines[i + 1].strip()
        if under and under.group(1) == over.group(1) and title and not _RST_ADORNMENT.match(lines[i + 1]):
            return title, (over.group(1), True), 3
    title = lines[i].strip()
    if title and not _RST_ADORNMENT.match(lines[i]) and i + 1 < len(lines):
        under = _RST_ADORNMENT.match(lines[i + 1])
        if under and len(lines[i + 1].rstrip()) >= len(lines[i].rstrip()):
            return title, (under.group(1), False), 2
    return None


# --- CSV -----------------------------------------------------------------------------------------------------------


def parse_csv(text: str, budget: CharBudget, *, rows_per_block: int, tab_separated: bool = False) -> list[Block]:
    """Rows of a CSV/TSV file as table blocks; the first row is the header and is repeated in every block."""
    dialect: type[csv.Dialect] | csv.Dialect = csv.excel_tab if tab_separated else csv.excel
    if not tab_separated:
        try:
            dialect = csv.Sniffer().sniff(text[:16384], delimiters=",;\t|")
        except csv.Error:
            dialect = csv.excel
    rows: list[Row] = []
    try:
        for raw in csv.reader(io.StringIO(text, newline=""), dialect):
            row = tuple(cell.strip() for cell in raw)
            if any(row):
                budget.take(" | ".join(row))
                rows.append(row)
    except csv.Error as exc:
        raise CorruptDocument(f"The CSV file could not be parsed: {exc}.") from exc
    return table_blocks(rows, rows_per_block=rows_per_block)


# --- JSON ----------------------------------------------------------------------------------------------------------


def parse_json(text: str, budget: CharBudget) -> tuple[list[Block], str | None]:
    """JSON flattened to ``key.path: value`` lines, one paragraph block per top-level member."""
    try:
        value = json.loads(text)
    except RecursionError as exc:
        raise CorruptDocument("The JSON document is nested too deeply to read.") from exc
    except ValueError as exc:
        raise CorruptDocument(f"The file is not valid JSON: {exc}.") from exc
    blocks: list[Block] = []
    if isinstance(value, dict):
        groups: Iterator[tuple[str, Any]] = ((str(key), item) for key, item in value.items())
    elif isinstance(value, list):
        groups = ((f"[{index}]", item) for index, item in enumerate(value))
    else:
        groups = iter([("", value)])
    for path, item in groups:
        lines = [budget.take(line) for line in _flatten(path, item)]
        if lines:
            blocks.append(Block("paragraph", "\n".join(lines)))
    title = value.get("title") if isinstance(value, dict) else None
    return blocks, title.strip()[:200] if isinstance(title, str) and title.strip() else None


def _flatten(root_path: str, root: Any) -> Iterator[str]:
    """Depth-first ``path: value`` lines without recursion (deep documents must not exhaust the stack)."""
    stack: list[tuple[str, Any]] = [(root_path, root)]
    while stack:
        path, value = stack.pop()
        if isinstance(value, dict) and value:
            prefix = f"{path}." if path else ""
            stack.extend((f"{prefix}{key}", item) for key, item in reversed(list(value.items())))
        elif isinstance(value, list) and value:
            stack.extend((f"{path}[{index}]", item) for index, item in reversed(list(enumerate(value))))
        else:
            rendered = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
            yield f"{path}: {rendered}" if path else rendered
