"""Tables pasted into a message — spreadsheet rows split by tabs, or cells split by pipes — as the form lines the
parser reads.

- A row becomes ``name: quantity unit``: ``12" Regular Box | 15 | bdl`` → ``12" Regular Box: 15 bdl``. A code
  column is the name only when there is no description: the codes may be the outlet's own item numbers.
- An empty quantity cell (or ``-``, ``nil``, ``0``) becomes ``name: -``: not ordered, never asked about.
- The header row ("Item | Qty (pcs) | Unit", "Code Description Qty UOM") names the columns and is dropped; a size
  column's cell ("L", "12 inch") joins the name. A unit in
  the quantity's heading ("Qty (pcs)", "No. of ctns") is every row's unit unless a unit column says otherwise.
  Price, amount and total columns are left out (the parser never reads prices); a remarks column becomes a
  ``Remarks:`` line under its row.
- Without a header, the quantity is the column whose cells are all whole numbers or empty, and a unit column is one
  whose cells are all unit words.
- An order portal's CSV export (a header row of known column names, then rows of its width) is read as a table.
- Under a header whose first column is the row number ("No Description UOM Qty", spaces only), the number is
  left out of each row.
- An item given as two fields, "Item: …" then "Qty: …", becomes one line.
- A single line of fields ("Outlet: Ah Hock | Attn: Mr Tan | HP: 9345 2210") is split into one line per field.
- A purchasing system's printout aligned with spaces is read by its header too (``reflow_aligned``).
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass

from opsdesk.orders.parsing.vocabulary import UNIT_WORDS

_CELL_SPLIT = re.compile(r"\t|\|")
_RULE_ROW = re.compile(r"^[\s|:\-+=_]*$")  # a markdown separator row: |---|:---:|
_NUMBER = re.compile(r"^\d{1,3}(?:,\d{3})+$|^\d+$")
_FIELD = re.compile(r"^[A-Za-z][\w ./]{0,30}:\s*\S")  # "HP: 9345 2210"
_EMPTY = frozenset({"", "-", "--", "0", "nil", "na", "n/a", "none", "x", "/"})
_WORD = re.compile(r"[a-z]+")

_CODE_HEADS = frozenset(
    {"code", "sku", "item code", "product code", "item no", "part no", "article", "stock code", "our code",
     "item number", "sku ours"}
)  # fmt: skip
_NAME_HEADS = frozenset(
    {"item", "items", "description", "desc", "product", "products", "product name", "item name", "name",
     "particulars", "item description", "product description", "goods"}
)  # fmt: skip
_UNIT_HEADS = frozenset({"uom", "unit", "units", "packing", "unit of measure", "pack", "measure"})
_SIZE_HEADS = frozenset({"size", "sizes", "variant", "spec", "specs", "specification", "dimension", "dimensions"})
_QTY_WORDS = frozenset({"qty", "quantity", "quantities", "order", "ordered", "req", "nos", "no of"})
_SKIP_WORDS = frozenset(
    {"price", "amount", "amt", "total", "cost", "sgd", "rate", "subtotal", "sn", "s/n", "no", "#", "stock", "balance",
     "bal", "onhand", "par"}
)  # fmt: skip
_REMARK_WORDS = frozenset({"remark", "remarks", "note", "notes", "comment", "comments"})


@dataclass(frozen=True, slots=True)
class _Columns:
    name: tuple[int, ...]
    quantity: int | None
    unit: int | None
    remarks: int | None
    default_unit: str  # from the quantity's heading: "Qty (pcs)"


def reflow_tables(text: str) -> str:
    """The message with every pasted table rewritten as form lines (see the module docstring)."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    lines = _join_item_fields(_numbered_rows(reflow_aligned(_comma_separated(lines))))
    out: list[str] = []
    block: list[list[str]] = []
    for line in [*lines, None]:
        cells = _cells(line) if line is not None else None
        if cells is not None and not any(_FIELD.match(cell) for cell in cells):
            if block and _header(cells) is not None:  # a header row starts a table of its own
                out.extend(_rewrite(block))
                block = []
            if not _RULE_ROW.match(line or ""):
                block.append(cells)
            continue
        out.extend(_rewrite(block))
        block = []
        if cells is not None:
            out.extend(cell for cell in cells if cell)  # "Outlet: Ah Hock | HP: 9345 2210": one line per field
        elif line is not None:
            out.append(line)
    return "\n".join(out)


def _comma_separated(lines: list[str]) -> list[str]:
    """An order portal's CSV export ("sku,description,qty,unit,line_total" and its rows) as tab-separated rows, so
    that it is read like any pasted table: from a header row the table's columns name, while rows have its width."""
    out: list[str] = []
    width = 0
    for line in lines:
        cells = next(csv.reader([line])) if line.count(",") >= 2 else []
        if width and len(cells) == width:
            out.append("\t".join(cells))
            continue
        width = len(cells) if cells and _header([c.strip() for c in cells]) is not None else 0
        out.append("\t".join(cells) if width else line)
    return out


_NUMBERED_HEADER = re.compile(r"^\W*(?:no\.?|s/?n|#|ln|line)\s+(?:item|description|desc|product)\b", re.IGNORECASE)
_ROW_NUMBER = re.compile(r"^(\s*)\d{1,3}[.)]?\s+(?=\S)")


def _numbered_rows(lines: list[str]) -> list[str]:
    """Under a header whose first column is the row number ("No Description UOM Qty"), each row's leading number
    is left out: in "2 Round Container Lid CTN 4" the count is 4."""
    out: list[str] = []
    numbered = False
    for line in lines:
        if _NUMBERED_HEADER.match(line):
            numbered = True
        elif numbered and _ROW_NUMBER.match(line):
            line = _ROW_NUMBER.sub(r"\1", line, count=1)
        elif line.strip():
            numbered = False
        out.append(line)
    return out


_ITEM_FIELD = re.compile(r"^\W*(?:item|product|description|particulars)\s*(?:name)?\s*[:=-]\s*(\S.*)$", re.IGNORECASE)
_QTY_FIELD = re.compile(r"^\W*(?:qty|quantity|quantities|nos)\s*[:=-]\s*(\S.*)$", re.IGNORECASE)


def _join_item_fields(lines: list[str]) -> list[str]:
    """A form that gives each item as two fields, "Item: Floor cleaner 5L" then "Qty: 10", as one line "Floor
    cleaner 5L: 10" (a blank line where the quantity was keeps the line count)."""
    out: list[str] = []
    for line in lines:
        quantity = _QTY_FIELD.match(line)
        item = _ITEM_FIELD.match(out[-1]) if out and quantity else None
        if quantity and item:
            out[-1] = f"{item.group(1).strip()}: {quantity.group(1).strip()}"
            out.append("")
        else:
            out.append(line)
    return out


def _cells(line: str | None) -> list[str] | None:
    """The cells of a table row, or None when the line is not one (fewer than two cells)."""
    if line is None or not _CELL_SPLIT.search(line):
        return None
    # Not tabs, nor a pipe at the end of a row that does not start with one: "8oz cup<TAB>" and "liner | " are
    # rows whose quantity is empty; "| liner | 2 |" has outer pipes.
    row = line.strip(" ")
    if row.startswith("|"):
        row = row[1:-1] if row.endswith("|") and len(row) > 1 else row[1:]
    cells = [cell.strip().strip("*_").strip() for cell in _CELL_SPLIT.split(row)]
    return cells if len(cells) >= 2 else None


def _rewrite(block: list[list[str]]) -> list[str]:
    if not block:
        return []
    header = _header(block[0])
    rows = block[1:] if header is not None else block
    columns = header or _guess(rows)
    lines = [""] if header is not None else []  # the header row is dropped (a blank line keeps the line count)
    for row in rows:
        lines.extend(_row(row, columns))
    return lines


def _header(cells: list[str]) -> _Columns | None:
    """The columns a header row names, or None when the row is not a header."""
    lowered = [" ".join(_WORD.findall(cell.lower())) for cell in cells]
    if any(re.search(r"\d", cell) for cell in cells) or any(len(cell.split()) > 4 for cell in lowered):
        return None
    name: list[int] = []
    quantity = unit = remarks = None
    default_unit = ""
    codes: list[int] = []
    sizes: list[int] = []  # a size column ("L", "12 inch") is part of the name
    for position, cell in enumerate(lowered):
        words = set(cell.split())
        if cell == "sku":  # a supplier portal's export: our own product codes, read with the description
            sizes.append(position)
            codes.append(position)
        elif cell in _CODE_HEADS:
            codes.append(position)
        elif cell in _NAME_HEADS:
            name.append(position)
        elif cell in _SIZE_HEADS:
            sizes.append(position)
        elif cell in _UNIT_HEADS:
            unit = position
        elif words & _REMARK_WORDS:
            remarks = position
        elif words & _SKIP_WORDS and not words & _QTY_WORDS:
            continue
        elif quantity is None and (words & _QTY_WORDS or words & UNIT_WORDS):
            quantity = position
            default_unit = next((word for word in cell.split() if word in UNIT_WORDS), "")
    name = name or codes  # the outlet's own item codes are left out when a description says what the item is
    if quantity is None or not name:
        return None
    name = sorted(set(name + sizes))
    return _Columns(tuple(name), quantity, unit, remarks, default_unit)


def _guess(rows: list[list[str]]) -> _Columns:
    """Columns of a table without a header: the quantity is the last column of whole numbers (or empty cells)."""
    width = max(len(row) for row in rows)

    def column(position: int) -> list[str]:
        return [row[position].lower() if position < len(row) else "" for row in rows]

    quantities = [
        position
        for position in range(1, width)
        if any(_NUMBER.match(cell) for cell in column(position))
        and all(_NUMBER.match(cell) or cell in _EMPTY for cell in column(position))
    ]
    quantity = quantities[-1] if quantities else None
    units = [
        position
        for position in range(width)
        if position != quantity
        and all(cell in UNIT_WORDS or cell in _EMPTY for cell in column(position))
        and any(cell in UNIT_WORDS for cell in column(position))
    ]
    unit = units[0] if units else None
    name = tuple(position for position in range(width) if position not in (quantity, unit))
    return _Columns(name, quantity, unit, None, "")


def _row(row: list[str], columns: _Columns) -> list[str]:
    def cell(position: int | None) -> str:
        return row[position] if position is not None and position < len(row) else ""

    name = " ".join(cell(position) for position in columns.name if cell(position).lower() not in _EMPTY)
    if columns.quantity is None or not name:
        return [", ".join(c for c in row if c)] if any(row) else []  # cells read as pieces of one line
    quantity = cell(columns.quantity)
    remark = cell(columns.remarks)
    words = quantity.lower().split()
    if quantity.lower() in _EMPTY:
        lines = [f"{name}: -"]
    elif _NUMBER.match(quantity):
        lines = [f"{name}: {quantity} {cell(columns.unit) or columns.default_unit}".rstrip()]
    elif len(words) == 2 and _NUMBER.match(words[0]) and words[1] in UNIT_WORDS:
        lines = [f"{name}: {quantity}"]  # "2 ctn"
    else:
        lines = [", ".join(c for c in row if c)]  # not a quantity: the row is read as it is
    return [*lines, *([f"Remarks: {remark}"] if remark else [])]


# --- tables aligned with spaces: a purchasing system's printout ("Ln  Item No  Description  Qty  UOM") ----------

_ALIGNED_COLUMNS = (  # longest first: a header's words are read as these column names
    "item description", "product description", "sku(ours)", "item code", "item no.", "item no", "item number",
    "our code", "unit price", "order qty", "qty (pcs)", "item#", "s/n", "no.", "ln", "line", "#", "code", "sku",
    "description", "desc", "item", "product", "qty", "quantity", "uom", "unit", "price", "amount", "total",
)  # fmt: skip
_ALIGNED_NAME = frozenset({"item description", "product description", "description", "desc", "product"})
_ALIGNED_QTY = frozenset({"order qty", "qty (pcs)", "qty", "quantity"})
_ALIGNED_UNIT = frozenset({"uom", "unit"})
_ALIGNED_LINE = frozenset({"s/n", "no.", "ln", "line", "#"})


def _aligned_header(line: str) -> list[str] | None:
    """The column names of a header row of a printout, or None: every word must belong to a known column name,
    and there must be a quantity and a description (or item) column."""
    rest, columns = line.strip().lower(), []
    while rest:
        found = next(
            (c for c in _ALIGNED_COLUMNS if rest.startswith(c) and rest[len(c) : len(c) + 1] in ("", " ")), None
        )
        if found is None:
            return None
        columns.append(found)
        rest = rest[len(found) :].strip()
    has_name = any(c in _ALIGNED_NAME or c == "item" for c in columns)
    if len(columns) < 3 or not any(c in _ALIGNED_QTY for c in columns) or not has_name:
        return None
    return columns


def reflow_aligned(lines: list[str]) -> list[str]:
    """Rows under a printout's header become form lines: "2  100233  PIZZA BOX 10" REGULAR  8  BDL" → "PIZZA BOX
    10" REGULAR: 8 BDL". The columns left of the description take one word each from the left, those right of it
    one word each from the right; line numbers, the outlet's own item numbers, prices and amounts are left out. A
    row that does not fit (its quantity is not a count, its line number not a number) ends the table."""
    out: list[str] = []
    columns: list[str] | None = None
    for line in lines:
        header = _aligned_header(line) if "\t" not in line and "|" not in line else None
        if header is not None:
            columns = header
            out.append("")  # the header row is dropped
            continue
        row = _aligned_row(line, columns) if columns else None
        if row is None:
            columns = None
            out.append(line)
        else:
            out.append(row)
    return out


def _aligned_row(line: str, columns: list[str]) -> str | None:
    names = [i for i, c in enumerate(columns) if c in _ALIGNED_NAME] or [columns.index("item")]
    middle = names[0]
    left, right = columns[:middle], columns[middle + 1 :]
    words = line.split()
    if len(words) < len(left) + len(right) + 1:
        return None
    cells = dict(zip(left, words[: len(left)], strict=True))
    cells.update(zip(right, words[len(words) - len(right) :], strict=True))
    description = " ".join(words[len(left) : len(words) - len(right)])
    quantity = next((cells[c] for c in cells if c in _ALIGNED_QTY), "")
    unit = next((cells[c] for c in cells if c in _ALIGNED_UNIT), "")
    numbered = all(cells[c].rstrip(".").isdigit() for c in cells if c in _ALIGNED_LINE)
    if not _NUMBER.match(quantity) or not numbered or (unit and unit.lower() not in UNIT_WORDS):
        return None
    return f"{description}: {quantity} {unit}".rstrip()
