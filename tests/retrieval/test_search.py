"""Keyword (BM25), semantic and hybrid search, filters and versions, through the service layer."""

from __future__ import annotations

import uuid

import pytest

from opsdesk.app.context import AppContext
from opsdesk.core.errors import NotFound
from opsdesk.knowledge.models import KnowledgeBase
from opsdesk.knowledge.query import retrieval
from opsdesk.knowledge.query.retrieval import Hit, Retriever, SearchFilters, SearchOptions, reciprocal_rank_fusion
from tests.conftest import Tenant
from tests.retrieval.conftest import Doc, ingest, make_kb

# Near-duplicate invoices differ only in their numbers (an embedding barely tells them apart; BM25 does), and the
# everyday questions share no words with their answers (BM25 misses them; an embedding does not).
_ALERT = "Invoice {code} was paid by bank transfer; the receipt is filed under accounts payable."
SYNTHETIC = [
    Doc("a1.md", "Invoice", _ALERT.format(code="100234")),
    Doc("a2.md", "Invoice", _ALERT.format(code="100243")),
    Doc("a3.md", "Invoice", _ALERT.format(code="100324")),
    Doc("a4.md", "Invoice", _ALERT.format(code="100423")),
    Doc("s1.md", "Pets at work", "Dogs and cats may come to the office on Fridays if they are calm and vaccinated."),
    Doc("s2.md", "Commuting", "Staff who cycle to work receive a monthly allowance for bike repairs and gear."),
    Doc(
        "s3.md", "Meals", "The canteen serves vegetarian lunch daily and the kitchen closes at three in the afternoon."
    ),
    Doc("n1.md", "Printers", "The printer on floor two jams when thick paper is used; use the tray for envelopes."),
    Doc("n2.md", "Parking", "Visitor parking is on level minus one; register the licence plate at the reception."),
    Doc("n3.md", "Plants", "Office plants are watered by the facility team on Mondays and Thursdays."),
]
QUERIES = {
    "invoice 100243": "a2.md",
    "was invoice 100324 paid": "a3.md",
    "receipt for 100423": "a4.md",
    "can I bring my puppy to the workplace": "s1.md",
    "money for riding a bicycle to work": "s2.md",
    "where do I eat at noon, meatless food": "s3.md",
}


async def _search(ctx: AppContext, kb: KnowledgeBase, query: str, **options: object) -> list[Hit]:
    retriever = Retriever(ctx.providers.embedder())
    async with ctx.db.session() as session:
        result = await retriever.search(
            session,
            workspace_id=kb.workspace_id,
            kbs=[kb],
            query=query,
            options=SearchOptions(**options),  # type: ignore[arg-type]
        )
    return result.hits


def _mrr(hits_by_query: dict[str, list[Hit]]) -> float:
    total = 0.0
    for query, hits in hits_by_query.items():
        keys = [hit.source_key for hit in hits]
        target = QUERIES[query]
        total += 1.0 / (keys.index(target) + 1) if target in keys else 0.0
    return total / len(hits_by_query)


async def test_hybrid_ranks_at_least_as_well_as_keyword_or_semantic_alone(ctx: AppContext, tenant: Tenant) -> None:
    await make_kb(ctx, tenant.workspace_id, "synthetic")
    kb = await ingest(ctx, tenant.workspace_id, "synthetic", SYNTHETIC)
    scores = {}
    for mode in ("keyword", "semantic", "hybrid"):
        scores[mode] = _mrr({q: await _search(ctx, kb, q, mode=mode, top_k=5) for q in QUERIES})
    assert scores["hybrid"] >= scores["keyword"], scores
    assert scores["hybrid"] >= scores["semantic"], scores
    assert scores["hybrid"] > 0.8, scores


async def test_keyword_search_ranks_the_document_with_the_rare_code_first(
    ctx: AppContext, handbook: KnowledgeBase
) -> None:
    hits = await _search(ctx, handbook, "what does ERR-4711 mean", mode="keyword")
    assert hits[0].source_key == "oncall.md"
    assert hits[0].keyword_rank == 1 and hits[0].semantic_rank is None


async def test_semantic_search_finds_a_paraphrase_without_shared_words(
    ctx: AppContext, handbook: KnowledgeBase
) -> None:
    hits = await _search(ctx, handbook, "how many days off do I get each year", mode="semantic", top_k=3)
    assert hits[0].source_key == "vacation.md"
    assert hits[0].similarity is not None and hits[0].similarity > 0.3


async def test_hits_carry_citations_of_the_latest_version(ctx: AppContext, handbook: KnowledgeBase) -> None:
    (hit,) = await _search(ctx, handbook, "hotel costs per night", top_k=1)
    assert hit.document_title == "Travel expenses"
    assert hit.version == "v1.0.0"
    assert hit.section_path.startswith("Travel expenses")
    assert "150 euros" in hit.text


async def test_tag_filter_keeps_only_documents_with_every_tag(ctx: AppContext, handbook: KnowledgeBase) -> None:
    hits = await _search(ctx, handbook, "policy", top_k=10, filters=SearchFilters(tags=("hr", "policy")))
    assert {hit.source_key for hit in hits} == {"vacation.md"}
    hits = await _search(ctx, handbook, "rules for accounts", top_k=10, filters=SearchFilters(tags=("it",)))
    assert {hit.source_key for hit in hits} <= {"laptop.md", "security.md"}
    assert hits


async def test_doc_type_filter(ctx: AppContext, tenant: Tenant, handbook: KnowledgeBase) -> None:
    hits = await _search(ctx, handbook, "vacation", filters=SearchFilters(doc_types=("pdf",)))
    assert hits == []
    hits = await _search(ctx, handbook, "vacation", filters=SearchFilters(doc_types=("md",)))
    assert hits and all(hit.doc_type == "md" for hit in hits)


async def test_queries_read_the_latest_version_unless_one_is_named(ctx: AppContext, tenant: Tenant) -> None:
    await make_kb(ctx, tenant.workspace_id, "versions")
    old = Doc("price.md", "Price list", "The basic plan costs 10 euros per month.", version="v1.0.0")
    new = Doc("price.md", "Price list", "The basic plan costs 12 euros per month since May.", version="v1.1.0")
    await ingest(ctx, tenant.workspace_id, "versions", [old])
    kb = await ingest(ctx, tenant.workspace_id, "versions", [new])

    latest = await _search(ctx, kb, "basic plan price", top_k=5)
    assert [hit.version for hit in latest] == ["v1.1.0"]
    assert "12 euros" in latest[0].text

    pinned = await _search(ctx, kb, "basic plan price", top_k=5, filters=SearchFilters(version="v1.0.0"))
    assert [hit.version for hit in pinned] == ["v1.0.0"]
    assert "10 euros" in pinned[0].text


async def test_search_never_reads_another_workspaces_chunks(
    ctx: AppContext, tenant: Tenant, other_tenant: Tenant, handbook: KnowledgeBase
) -> None:
    retriever = Retriever(ctx.providers.embedder())
    async with ctx.db.session() as session:
        # Even with acme's knowledge base object in hand, a search scoped to globex is refused.
        with pytest.raises(NotFound):
            await retriever.search(
                session,
                workspace_id=other_tenant.workspace_id,
                kbs=[handbook],
                query="vacation",
                options=SearchOptions(),
            )


def test_weighted_reciprocal_rank_fusion() -> None:
    a, b, c = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    fused = reciprocal_rank_fusion([[(a, 9.0), (b, 5.0)], [(b, 0.9), (c, 0.8)]], [1.0, 1.0], k=60)
    assert [item for item, _ in fused] == [b, a, c]
    keyword_only = reciprocal_rank_fusion([[(a, 9.0), (b, 5.0)], [(b, 0.9), (c, 0.8)]], [1.0, 0.0], k=60)
    assert [item for item, _ in keyword_only] == [a, b]
    sharp = reciprocal_rank_fusion([[(a, 9.0), (c, 5.0)], [(b, 0.9), (a, 0.8)]], [2.0, 1.0], k=1)
    assert sharp[0][0] == a


async def test_the_hnsw_path_agrees_with_the_exact_scan(
    ctx: AppContext, handbook: KnowledgeBase, monkeypatch: pytest.MonkeyPatch
) -> None:
    question = "how many days off do I get each year"
    exact = await _search(ctx, handbook, question, mode="semantic", top_k=5)
    monkeypatch.setattr(retrieval, "EXACT_SCAN_MAX", 0)  # as if the knowledge base were large
    approximate = await _search(ctx, handbook, question, mode="semantic", top_k=5)
    assert [hit.chunk_id for hit in approximate] == [hit.chunk_id for hit in exact]
    tagged = await _search(ctx, handbook, question, mode="semantic", top_k=5, filters=SearchFilters(tags=("it",)))
    assert tagged and {hit.source_key for hit in tagged} <= {"laptop.md", "security.md"}
