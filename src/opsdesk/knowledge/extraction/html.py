"""HTML pages: headings, paragraphs, lists, tables and preformatted code, without scripts and navigation."""

from __future__ import annotations

import importlib.util
import re
from typing import Any

from bs4 import BeautifulSoup
from bs4.element import NavigableString, PreformattedString, Tag

from opsdesk.knowledge.extraction.types import Block, CharBudget, Row, table_blocks

_PARSER = "lxml" if importlib.util.find_spec("lxml") is not None else "html.parser"

_DROP = ("script", "style", "noscript", "template", "nav", "footer", "iframe", "svg", "canvas", "object", "embed")
_HEADINGS = {"h1": 1, "h2": 2, "h3": 3, "h4": 4, "h5": 5, "h6": 6}
_CONTAINERS = frozenset(
    {
        "address", "article", "aside", "blockquote", "body", "center", "dd", "details", "dialog", "div", "dl", "dt",
        "fieldset", "figcaption", "figure", "form", "header", "hgroup", "html", "li", "main", "p", "section",
        "summary", "caption", "legend", "tbody", "thead", "tfoot", "tr", "td", "th",
    }
)  # fmt: skip
_SPACES = re.compile(r"[ \t\r\f\v\u00a0]+")
_FLUSH = object()


def parse_html(
    data: bytes, budget: CharBudget, *, charset: str | None, rows_per_block: int
) -> tuple[list[Block], str | None]:
    """HTML bytes to blocks and the page title; ``charset`` is the declared encoding, if any."""
    soup = BeautifulSoup(data, _PARSER, from_encoding=charset)
    title = _page_title(soup)
    for tag in soup.find_all(_DROP):
        tag.decompose()
    for tag in soup.find_all(None, {"role": "navigation"}):
        tag.decompose()
    for tag in soup.find_all(None, {"hidden": True}):
        tag.decompose()
    root = soup.find("main") or soup.body or soup
    blocks = _Walker(budget, rows_per_block).walk(root)
    if title is None:
        first = next((block for block in blocks if block.kind == "heading"), None)
        title = first.text if first else None
    return blocks, title


def _page_title(soup: BeautifulSoup) -> str | None:
    if soup.title is not None:
        text = _clean(soup.title.get_text(" "))
        if text:
            return text
    return None


def _clean(text: str) -> str:
    lines = (_SPACES.sub(" ", line).strip() for line in text.split("\n"))
    return "\n".join(line for line in lines if line)


class _Walker:
    """Walks the tree iteratively (deeply nested pages must not exhaust the stack), collecting inline text."""

    def __init__(self, budget: CharBudget, rows_per_block: int) -> None:
        self.budget = budget
        self.rows_per_block = rows_per_block
        self.blocks: list[Block] = []
        self.inline: list[str] = []

    def walk(self, root: Any) -> list[Block]:
        stack: list[Any] = list(reversed(list(root.children)))
        while stack:
            node = stack.pop()
            if node is _FLUSH:
                self._flush()
            elif isinstance(node, PreformattedString):  # comments, doctypes, CDATA, processing instructions
                continue
            elif isinstance(node, NavigableString):
                self.inline.append(str(node).replace("\n", " "))
            elif isinstance(node, Tag):
                stack.extend(self._visit(node))
        self._flush()
        return self.blocks

    def _visit(self, tag: Tag) -> list[Any]:
        """Handle one element; return what to push on the stack (in reverse reading order)."""
        name = tag.name
        if name in _HEADINGS:
            self._flush()
            self._heading(tag.get_text(" "), _HEADINGS[name])
        elif name == "table":
            self._flush()
            self._table(tag)
        elif name == "pre":
            self._flush()
            code = tag.get_text().strip("\n")
            if code.strip():
                self.blocks.append(Block("code", self.budget.take(code)))
        elif name in ("ul", "ol"):
            self._flush()
            self._list(tag, ordered=name == "ol")
        elif name == "br":
            self.inline.append("\n")
        elif name in _CONTAINERS:
            self._flush()
            return [_FLUSH, *reversed(list(tag.children))]
        else:
            return list(reversed(list(tag.children)))
        return []

    def _flush(self) -> None:
        text = _clean("".join(self.inline))
        self.inline.clear()
        if text:
            self.blocks.append(Block("paragraph", self.budget.take(text)))

    def _heading(self, raw: str, level: int) -> None:
        text = _clean(raw).replace("\n", " ")
        if text:
            self.blocks.append(Block("heading", self.budget.take(text), level=level))

    def _list(self, tag: Tag, *, ordered: bool) -> None:
        items = [_clean(item.get_text(" ")).replace("\n", " ") for item in tag.find_all("li", recursive=False)]
        if not items:
            items = [_clean(tag.get_text(" ")).replace("\n", " ")]
        lines = [f"{index}. {item}" if ordered else f"- {item}" for index, item in enumerate(items, 1) if item]
        if lines:
            self.blocks.append(Block("list", self.budget.take("\n".join(lines))))

    def _table(self, tag: Tag) -> None:
        rows: list[Row] = []
        for row in tag.find_all("tr"):
            cells = tuple(
                _clean(cell.get_text(" ")).replace("\n", " ") for cell in row.find_all(["th", "td"], recursive=False)
            )
            if any(cells):
                rows.append(cells)
        for block in table_blocks(rows, rows_per_block=self.rows_per_block):
            self.budget.take(block.text)
            self.blocks.append(block)
