"""Extraction: each supported format yields the right blocks, and every bad input gets a clear, typed error."""

from __future__ import annotations

import io
import json
import zipfile

import pytest

from opsdesk.knowledge.extraction import (
    CorruptDocument,
    DocumentTooLarge,
    EmptyDocument,
    ExtractedDocument,
    ExtractionLimits,
    SuspiciousArchive,
    UnsupportedDocument,
    extract,
)
from tests.knowledge.sample_documents import make_docx, make_pdf, make_xlsx, rezip, zip_bomb_docx


def kinds(doc: ExtractedDocument) -> list[str]:
    return [block.kind for block in doc.blocks]


def headings(doc: ExtractedDocument) -> list[tuple[int | None, str]]:
    return [(block.level, block.text) for block in doc.blocks if block.kind == "heading"]


# --- formats ---------------------------------------------------------------------------------------------------


def test_markdown_keeps_headings_fenced_code_lists_and_tables() -> None:
    text = """---
title: Support handbook
---
# Returns policy

Customers may return items within 30 days.

## Refunds

- card payments: 5 days
- bank transfer: 10 days

```python
# not a heading
refund(order)
```

| Method | Days |
|--------|-----:|
| Card   | 5    |
| Bank   | 10   |

Setext heading
--------------
Closing words.
"""
    doc = extract(text.encode(), "handbook.md", None)
    assert doc.doc_type == "md"
    assert doc.title == "Support handbook"
    assert headings(doc) == [(1, "Returns policy"), (2, "Refunds"), (2, "Setext heading")]
    assert kinds(doc) == ["heading", "paragraph", "heading", "list", "code", "table", "heading", "paragraph"]
    code = doc.blocks[4]
    assert code.text == "# not a heading\nrefund(order)"
    table = doc.blocks[5]
    assert table.rows == (("Method", "Days"), ("Card", "5"), ("Bank", "10"))


def test_markdown_title_falls_back_to_first_top_heading_then_file_name() -> None:
    assert extract(b"intro\n\n# Main title\n\ntext", "a.md", None).title == "Main title"
    assert extract(b"just text", "notes/release-notes.md", None).title == "release-notes"


def test_plain_text_splits_paragraphs_and_rst_underlines_become_headings() -> None:
    plain = extract(b"First paragraph\ncontinues.\n\nSecond paragraph.", "notes.txt", None)
    assert kinds(plain) == ["paragraph", "paragraph"]
    assert plain.blocks[0].text == "First paragraph\ncontinues."

    rst = extract(b"Guide\n=====\n\nIntro.\n\nInstall\n-------\n\nRun it.\n", "guide.rst", None)
    assert headings(rst) == [(1, "Guide"), (2, "Install")]
    assert rst.title == "Guide"


def test_html_drops_scripts_navigation_and_footer_and_keeps_structure() -> None:
    page = b"""<!doctype html><html><head><title>Shipping | ACME</title><style>p{color:red}</style></head>
    <body><nav><a href="/">Home</a> <a href="/about">About</a></nav>
    <h1>Shipping</h1><p>We ship <b>worldwide</b>.<br>Orders leave in two days.</p>
    <script>alert("x")</script>
    <h2>Rates</h2>
    <table><tr><th>Zone</th><th>Price</th></tr><tr><td>EU</td><td>5 EUR</td></tr></table>
    <ul><li>Tracked</li><li>Insured</li></ul>
    <pre>curl https://acme.example/track</pre>
    <div>Loose text in a div</div>
    <footer>Copyright ACME</footer></body></html>"""
    doc = extract(page, "shipping.html", "text/html; charset=utf-8")
    assert doc.doc_type == "html"
    assert doc.title == "Shipping | ACME"
    assert headings(doc) == [(1, "Shipping"), (2, "Rates")]
    assert kinds(doc) == ["heading", "paragraph", "heading", "table", "list", "code", "paragraph"]
    assert doc.blocks[1].text == "We ship worldwide.\nOrders leave in two days."
    assert doc.blocks[3].rows == (("Zone", "Price"), ("EU", "5 EUR"))
    assert doc.blocks[4].text == "- Tracked\n- Insured"
    everything = doc.text
    for dropped in ("alert", "Home", "About", "Copyright", "color:red"):
        assert dropped not in everything


def test_html_nested_ten_thousand_levels_deep_does_not_crash() -> None:
    page = b"<html><body>" + b"<div>" * 10_000 + b"deep text" + b"</div>" * 10_000 + b"</body></html>"
    doc = extract(page, "deep.html", None)
    assert "deep text" in doc.text


def test_pdf_keeps_page_numbers_and_guesses_headings_from_font_size() -> None:
    data = make_pdf(
        [
            [("h1", "Returns policy"), ("p", "Customers may return items within 30 days."), ("h2", "Refunds")],
            [("p", "Refunds reach the card within five days."), ("h1", "Shipping"), ("p", "We ship worldwide.")],
        ],
        title="Handbook",
    )
    doc = extract(data, "handbook.pdf", "application/pdf")
    assert doc.doc_type == "pdf"
    assert doc.title == "Handbook"
    assert doc.metadata["pages"] == "2"
    assert headings(doc) == [(1, "Returns policy"), (2, "Refunds"), (1, "Shipping")]
    pages = {block.text: block.page for block in doc.blocks}
    assert pages["Customers may return items within 30 days."] == 1
    assert pages["Refunds reach the card within five days."] == 2
    assert pages["Shipping"] == 2


def test_docx_heading_styles_lists_and_tables() -> None:
    doc = extract(make_docx(), "travel.docx", None)
    assert doc.doc_type == "docx"
    assert doc.title == "Travel policy"
    assert headings(doc) == [(1, "Travel policy"), (1, "Booking"), (2, "Allowances")]
    assert kinds(doc) == ["heading", "paragraph", "heading", "paragraph", "list", "heading", "table"]
    assert doc.blocks[4].text.splitlines() == [
        "- Economy class for flights under 6 hours",
        "- Business class needs a director's approval",
    ]
    assert doc.blocks[-1].rows == (("City", "Daily allowance"), ("London", "90 EUR"), ("Oslo", "110 EUR"))


def test_xlsx_gives_each_sheet_its_tables_with_the_header_repeated() -> None:
    rows = [("SKU", "Name", "Stock"), *((f"S{i:03}", f"Item {i}", i * 1.0) for i in range(120))]
    data = make_xlsx({"Stock": rows, "Empty": [], "Notes": [["Note"], ["Counted on Monday"]]})
    doc = extract(data, "stock.xlsx", None, ExtractionLimits(table_rows_per_block=50))
    assert doc.doc_type == "xlsx"
    assert doc.metadata["sheets"] == "3"
    stock = [block for block in doc.blocks if block.sheet == "Stock"]
    assert [len(block.rows or ()) for block in stock] == [51, 51, 21]
    assert all(block.rows and block.rows[0] == ("SKU", "Name", "Stock") for block in stock)
    assert stock[0].rows and stock[0].rows[1] == ("S000", "Item 0", "0")
    assert [block.sheet for block in doc.blocks if block.sheet != "Stock"] == ["Notes"]


def test_csv_becomes_table_blocks_with_the_header_kept() -> None:
    lines = ["city;country;population"] + [f"City {i};Country {i % 7};{1000 + i}" for i in range(30)]
    doc = extract("\n".join(lines).encode(), "cities.csv", None, ExtractionLimits(table_rows_per_block=10))
    assert doc.doc_type == "csv"
    assert kinds(doc) == ["table"] * 3
    assert all(block.rows and block.rows[0] == ("city", "country", "population") for block in doc.blocks)
    assert doc.blocks[0].text.splitlines()[1] == "City 0 | Country 0 | 1000"


def test_json_is_flattened_to_key_paths() -> None:
    payload = {"title": "Config", "server": {"host": "db.internal", "ports": [5432, 5433]}, "debug": False}
    doc = extract(json.dumps(payload).encode(), "settings.json", None)
    assert doc.doc_type == "json"
    assert doc.title == "Config"
    assert [line for line in doc.text.splitlines() if line] == [
        "title: Config",
        "server.host: db.internal",
        "server.ports[0]: 5432",
        "server.ports[1]: 5433",
        "debug: false",
    ]


def test_source_code_becomes_code_blocks_split_at_top_level() -> None:
    source = "import os\n\n\ndef first():\n    return 1\n\n\ndef second():\n    return 2\n"
    doc = extract(source.encode(), "src/app/util.py", None, ExtractionLimits(code_lines_per_block=8))
    assert doc.doc_type == "code"
    assert doc.metadata["language"] == "python"
    assert doc.title == "src/app/util.py"
    assert kinds(doc) == ["code", "code"]
    assert doc.blocks[0].text.startswith("import os") and doc.blocks[0].text.endswith("return 1")
    assert doc.blocks[1].text == "def second():\n    return 2"


def test_legacy_encodings_are_decoded() -> None:
    doc = extract("Caf\u00e9 cr\u00e8me br\u00fbl\u00e9e, s'il vous pla\u00eet.".encode("latin-1"), "menu.txt", None)
    assert "Café crème brûlée" in doc.text
    declared = extract("Größe".encode("cp1252"), "x.txt", "text/plain; charset=windows-1252")
    assert declared.text == "Größe"


def test_text_that_mentions_a_pdf_header_stays_text() -> None:
    assert extract(b"Every PDF starts with %PDF-1.7 in its header.", "notes.md", None).doc_type == "md"


def test_type_comes_from_content_when_the_name_says_nothing() -> None:
    assert extract(b"<!DOCTYPE html><html><body><p>hi</p></body></html>", "page", None).doc_type == "html"
    assert extract(b'{"a": 1}', "blob", None).doc_type == "json"
    assert extract(b"# Title\n\ntext", "upload", "text/markdown").doc_type == "md"
    assert extract(make_docx(), "upload.bin", None).doc_type == "docx"


# --- bad input -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("data", [b"", b"   \n\t  \r\n"])
def test_empty_or_blank_file_is_an_empty_document(data: bytes) -> None:
    with pytest.raises(EmptyDocument, match="empty"):
        extract(data, "notes.txt", None)


def test_markup_without_text_is_an_empty_document() -> None:
    with pytest.raises(EmptyDocument, match="no text"):
        extract(b"<html><body><script>x()</script></body></html>", "blank.html", None)


def test_pdf_without_text_is_empty_and_says_it_needs_ocr() -> None:
    with pytest.raises(EmptyDocument, match="OCR"):
        extract(make_pdf([[]]), "scan.pdf", None)


@pytest.mark.parametrize(
    "data",
    [b"%PDF-1.7\n" + bytes(range(256)) * 10, b"%PDF-1.4\n%%EOF"],
    ids=["garbage body", "header only"],
)
def test_corrupt_pdf_is_a_corrupt_document(data: bytes) -> None:
    with pytest.raises(CorruptDocument, match="PDF"):
        extract(data, "report.pdf", None)


def test_truncated_pdf_is_a_corrupt_document() -> None:
    data = make_pdf([[("p", "Some text. " * 200)]])
    with pytest.raises(CorruptDocument):
        extract(data[: len(data) // 2], "report.pdf", None)


def test_file_named_pdf_without_a_pdf_header_is_corrupt() -> None:
    with pytest.raises(CorruptDocument, match="declared as PDF"):
        extract(b"hello, I am not a pdf", "report.pdf", None)


def test_corrupt_docx_is_a_corrupt_document() -> None:
    data = make_docx()
    with pytest.raises(CorruptDocument, match="DOCX"):
        extract(data[: len(data) // 2], "travel.docx", None)
    broken_xml = rezip(data, replace={"word/document.xml": b"<w:document><unclosed"})
    with pytest.raises(CorruptDocument, match="DOCX"):
        extract(broken_xml, "travel.docx", None)


def test_corrupt_xlsx_is_a_corrupt_document() -> None:
    data = make_xlsx({"Sheet": [["a", "b"], [1, 2]]})
    with pytest.raises(CorruptDocument, match="XLSX"):
        extract(data[: len(data) // 3], "stock.xlsx", None)
    broken_xml = rezip(data, replace={"xl/workbook.xml": b"not xml at all"})
    with pytest.raises(CorruptDocument, match="XLSX"):
        extract(broken_xml, "stock.xlsx", None)


def test_zip_bomb_docx_is_refused_before_parsing() -> None:
    bomb = zip_bomb_docx(padding_bytes=8 * 1024 * 1024)
    assert len(bomb) < 100_000  # tiny on the wire, 8 MB expanded
    with pytest.raises(SuspiciousArchive, match="zip bomb"):
        extract(bomb, "innocent.docx", None)
    # The same file is a valid document: only the guard stands between it and the parser.
    relaxed = ExtractionLimits(max_compression_ratio=1_000_000)
    assert extract(bomb, "innocent.docx", None, relaxed).title == "Travel policy"


def test_archive_expanding_past_the_total_limit_is_refused() -> None:
    bomb = zip_bomb_docx(padding_bytes=3 * 1024 * 1024)
    limits = ExtractionLimits(max_uncompressed_bytes=2 * 1024 * 1024, max_compression_ratio=1_000_000)
    with pytest.raises(SuspiciousArchive, match="would expand"):
        extract(bomb, "innocent.docx", None, limits)


def test_archive_with_too_many_members_is_refused() -> None:
    crowded = rezip(make_docx(), add={f"extra/item{i}.xml": b"<x/>" for i in range(60)})
    with pytest.raises(SuspiciousArchive, match="parts"):
        extract(crowded, "crowded.docx", None, ExtractionLimits(max_zip_members=50))


@pytest.mark.parametrize(
    ("data", "filename", "named"),
    [
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * 100, "photo.png", "PNG image"),
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * 100, "photo.txt", "PNG image"),
        (b"MZ\x90\x00\x03\x00\x00\x00" + b"\x00" * 100, "setup.exe", "Windows executable"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100, "old.doc", "legacy"),
        (b"some text", "archive.xyz", "'.xyz'"),
        (b"abc\x00\x01\x02binary", "data.txt", "binary"),
    ],
)
def test_unsupported_types_are_refused_by_name(data: bytes, filename: str, named: str) -> None:
    with pytest.raises(UnsupportedDocument, match=named) as caught:
        extract(data, filename, None)
    assert caught.value.status_code == 415


def test_other_office_packages_are_refused_by_name() -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as package:
        package.writestr(
            "[Content_Types].xml",
            '<Types><Override ContentType="application/vnd.openxmlformats-officedocument.presentationml.'
            'presentation.main+xml"/></Types>',
        )
    with pytest.raises(UnsupportedDocument, match="PowerPoint"):
        extract(buffer.getvalue(), "deck.pptx", None)
    plain = io.BytesIO()
    with zipfile.ZipFile(plain, "w") as archive:
        archive.writestr("readme.txt", "hello")
    with pytest.raises(UnsupportedDocument, match="ZIP archive"):
        extract(plain.getvalue(), "bundle.zip", None)


def test_oversized_file_is_refused_with_413() -> None:
    with pytest.raises(DocumentTooLarge, match="limit") as caught:
        extract(b"x" * 2_000, "big.txt", None, ExtractionLimits(max_bytes=1_000))
    assert caught.value.status_code == 413


def test_text_beyond_the_character_limit_is_refused() -> None:
    with pytest.raises(DocumentTooLarge, match="characters"):
        extract(("word " * 1_000).encode(), "long.txt", None, ExtractionLimits(max_chars=500))
    rows = [["a", "b"], *(["x" * 20, "y" * 20] for _ in range(100))]
    with pytest.raises(DocumentTooLarge, match="characters"):
        extract(make_xlsx({"S": rows}), "wide.xlsx", None, ExtractionLimits(max_chars=1_000))


def test_pdf_beyond_the_page_limit_is_refused() -> None:
    data = make_pdf([[("p", f"Page {n}")] for n in range(5)])
    with pytest.raises(DocumentTooLarge, match="5 pages"):
        extract(data, "long.pdf", None, ExtractionLimits(max_pages=3))


def test_invalid_json_and_csv_are_corrupt() -> None:
    with pytest.raises(CorruptDocument, match="not valid JSON"):
        extract(b'{"a": [1, 2', "broken.json", None)
    with pytest.raises(CorruptDocument, match="nested too deeply"):
        extract(b"[" * 100_000 + b"]" * 100_000, "deep.json", None)
    with pytest.raises(CorruptDocument, match="CSV"):
        extract(b'a,b\n"unterminated' + b"x" * 200_000, "bad.csv", None)
