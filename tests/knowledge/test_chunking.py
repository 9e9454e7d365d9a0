"""Chunking: structure kept (section paths, pages), sizes respected, tables and long text split cleanly."""

from __future__ import annotations

import hashlib
import itertools

import pytest

from opsdesk.knowledge.chunking import Chunk, chunk_document, estimate_tokens
from opsdesk.knowledge.extraction import Block, ExtractedDocument, extract
from opsdesk.knowledge.extraction.types import render_table
from tests.knowledge.sample_documents import make_pdf


def doc_of(*blocks: Block) -> ExtractedDocument:
    return ExtractedDocument(title="t", doc_type="md", blocks=list(blocks))


def sentences(count: int, topic: str = "refund") -> str:
    return " ".join(f"Sentence {n} explains the {topic} rule in plain words." for n in range(count))


def heading(text: str, level: int) -> Block:
    return Block("heading", text, level=level)


def test_chunks_carry_their_section_path() -> None:
    markdown = f"""# Returns policy

{sentences(4, "return")}

## Refunds

{sentences(4)}

### Card payments

{sentences(4, "card")}

## Exchanges

{sentences(4, "exchange")}
"""
    chunks = chunk_document(extract(markdown.encode(), "policy.md", None), max_tokens=80, overlap_tokens=0)
    paths = [chunk.section_path for chunk in chunks]
    assert paths == [
        "Returns policy",
        "Returns policy > Refunds",
        "Returns policy > Refunds > Card payments",
        "Returns policy > Exchanges",
    ]
    assert chunks[1].text.startswith("Refunds\n\nSentence 0 explains the refund rule")


def test_a_title_with_nothing_under_it_joins_its_first_subsection() -> None:
    doc = doc_of(heading("Returns policy", 1), heading("Refunds", 2), Block("paragraph", sentences(3)))
    chunks = chunk_document(doc, max_tokens=200)
    assert len(chunks) == 1
    assert chunks[0].text.startswith("Returns policy\n\nRefunds\n\nSentence 0")
    assert chunks[0].section_path == "Returns policy > Refunds"


def test_chunks_do_not_cross_top_level_sections_even_when_they_would_fit() -> None:
    doc = doc_of(
        heading("Shipping", 2),
        Block("paragraph", sentences(3, "shipping")),
        heading("Billing", 2),
        Block("paragraph", sentences(3, "billing")),
    )
    chunks = chunk_document(doc, max_tokens=500)
    assert [chunk.section_path for chunk in chunks] == ["Shipping", "Billing"]
    assert "billing" not in chunks[0].text


def test_small_subsections_below_level_two_share_a_chunk() -> None:
    doc = doc_of(
        heading("FAQ", 2),
        heading("Can I pay by card?", 3),
        Block("paragraph", "Yes, all major cards."),
        heading("Can I pay later?", 3),
        Block("paragraph", "Yes, within 30 days."),
    )
    chunks = chunk_document(doc, max_tokens=200)
    assert len(chunks) == 1
    assert chunks[0].section_path == "FAQ"


def test_every_chunk_respects_max_tokens_and_headings_never_end_a_chunk() -> None:
    blocks: list[Block] = []
    for n in range(6):
        blocks += [heading(f"Section {n}", 2), Block("paragraph", sentences(25, f"topic {n}"))]
        blocks += [heading(f"Detail {n}", 3), Block("list", "\n".join(f"- item {i} of {n}" for i in range(40)))]
    chunks = chunk_document(doc_of(*blocks), max_tokens=120, overlap_tokens=20)
    assert len(chunks) > 12
    assert all(chunk.token_count <= 120 for chunk in chunks)
    assert all(chunk.token_count == estimate_tokens(chunk.text) for chunk in chunks)
    heading_texts = {block.text for block in blocks if block.kind == "heading"}
    assert all(chunk.text.split("\n\n")[-1] not in heading_texts for chunk in chunks)


def test_long_paragraphs_split_on_sentences_with_overlap_inside_the_section() -> None:
    doc = doc_of(
        heading("Refunds", 2), Block("paragraph", sentences(30)), heading("Other", 2), Block("paragraph", "x.")
    )
    chunks = chunk_document(doc, max_tokens=100, overlap_tokens=30)
    refunds = [chunk for chunk in chunks if chunk.section_path == "Refunds"]
    assert len(refunds) >= 3
    for previous, following in itertools.pairwise(refunds):
        first_sentence = following.text.split(". ")[0] + "."
        assert first_sentence in previous.text  # the next chunk opens with the previous one's last sentence(s)
        overlap = following.text[: following.text.index(first_sentence) + len(first_sentence)]
        assert estimate_tokens(overlap) <= 30
    for chunk in refunds[1:]:
        assert chunk.text.startswith("Sentence ")  # whole sentences, not fragments
    other = next(chunk for chunk in chunks if chunk.section_path == "Other")
    assert other.text == "Other\n\nx."  # no overlap carried across sections


def test_zero_overlap_gives_disjoint_chunks_that_cover_the_text() -> None:
    text = sentences(40)
    chunks = chunk_document(doc_of(Block("paragraph", text)), max_tokens=60, overlap_tokens=0)
    assert " ".join(chunk.text for chunk in chunks) == text


def test_tables_split_by_rows_with_the_header_repeated() -> None:
    rows = (("SKU", "Name", "Price"), *((f"S{i}", f"Widget number {i}", f"{i}.00 EUR") for i in range(60)))
    table = Block("table", render_table(rows), rows=rows)
    chunks = chunk_document(doc_of(heading("Price list", 1), table), max_tokens=80, overlap_tokens=10)
    assert len(chunks) > 3
    seen_rows: list[str] = []
    for chunk in chunks:
        lines = chunk.text.removeprefix("Price list\n\n").splitlines()
        assert lines[0] == "SKU | Name | Price"
        seen_rows += lines[1:]
        assert chunk.section_path == "Price list"
    assert seen_rows == [f"S{i} | Widget number {i} | {i}.00 EUR" for i in range(60)]


def test_spreadsheet_tables_are_merged_then_split_and_the_sheet_names_the_section() -> None:
    header = ("Item", "Qty")
    blocks = [
        Block("table", "", sheet="Stock", rows=(header, *((f"item {i}", str(i)) for i in range(start, start + 5))))
        for start in (0, 5, 10)
    ]
    chunks = chunk_document(
        ExtractedDocument(
            title="s", doc_type="xlsx", blocks=[*blocks, Block("table", "", sheet="Other", rows=(header,))]
        ),
        max_tokens=256,
    )
    assert [chunk.section_path for chunk in chunks] == ["Stock", "Other"]
    assert chunks[0].text.count("Item | Qty") == 1
    assert chunks[0].text.splitlines()[-1] == "item 14 | 14"


def test_pdf_chunks_keep_first_and_last_page() -> None:
    data = make_pdf(
        [
            [("h1", "Warranty"), ("p", sentences(6, "warranty"))],
            [("p", sentences(6, "repair"))],
            [("h1", "Support"), ("p", "Call us.")],
        ]
    )
    chunks = chunk_document(extract(data, "warranty.pdf", None), max_tokens=512, overlap_tokens=0)
    assert [(chunk.section_path, chunk.page, chunk.last_page) for chunk in chunks] == [
        ("Warranty", 1, 2),
        ("Support", 3, 3),
    ]


def test_code_splits_by_lines() -> None:
    code = "\n".join(f"    value_{n} = compute({n})" for n in range(200))
    chunks = chunk_document(
        ExtractedDocument(title="c", doc_type="code", blocks=[Block("code", code)]), max_tokens=100, overlap_tokens=0
    )
    assert len(chunks) > 3
    assert "\n".join(chunk.text for chunk in chunks) == code  # indentation kept
    assert all(chunk.token_count <= 100 for chunk in chunks)


def test_a_word_longer_than_a_chunk_is_cut_by_characters() -> None:
    blob = "A" * 5_000
    chunks = chunk_document(doc_of(Block("paragraph", blob)), max_tokens=100, overlap_tokens=0)
    assert "".join(chunk.text for chunk in chunks) == blob
    assert all(chunk.token_count <= 100 for chunk in chunks)


def test_the_token_counter_is_pluggable() -> None:
    def words(text: str) -> int:
        return len(text.split())

    chunks = chunk_document(
        doc_of(Block("paragraph", sentences(30))), max_tokens=25, overlap_tokens=5, count_tokens=words
    )
    assert all(len(chunk.text.split()) <= 25 for chunk in chunks)
    assert all(chunk.token_count == words(chunk.text) for chunk in chunks)


def test_chunks_are_numbered_and_hashed() -> None:
    chunks = chunk_document(doc_of(Block("paragraph", sentences(40))), max_tokens=64)
    assert [chunk.ordinal for chunk in chunks] == list(range(len(chunks)))
    for chunk in chunks:
        assert isinstance(chunk, Chunk)
        assert chunk.content_hash == hashlib.sha256(chunk.text.encode()).hexdigest()


def test_same_document_gives_identical_chunks() -> None:
    markdown = f"# A\n\n{sentences(20)}\n\n## B\n\n{sentences(20, 'b')}".encode()
    first = chunk_document(extract(markdown, "a.md", None))
    second = chunk_document(extract(markdown, "a.md", None))
    assert first == second


def test_a_document_of_only_headings_still_gives_a_chunk() -> None:
    chunks = chunk_document(doc_of(heading("Just a title", 1)))
    assert [chunk.text for chunk in chunks] == ["Just a title"]


@pytest.mark.parametrize(("max_tokens", "overlap"), [(0, 0), (100, 100), (100, -1)])
def test_impossible_sizes_are_refused(max_tokens: int, overlap: int) -> None:
    with pytest.raises(ValueError):
        chunk_document(doc_of(Block("paragraph", "x")), max_tokens=max_tokens, overlap_tokens=overlap)
