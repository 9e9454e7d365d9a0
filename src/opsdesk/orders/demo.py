"""The order desk demo: an invented packaging distributor's catalog, outlets and rules, and its policy documents."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from opsdesk.app.context import AppContext
from opsdesk.core.errors import NotFound
from opsdesk.core.logging import get_logger
from opsdesk.orders.catalog.service import bump_revision, upsert_rule
from opsdesk.orders.models import Outlet, Product
from opsdesk.orders.parsing import Catalog, load_catalog

log = get_logger(__name__)
KB_DIR = Path(__file__).resolve().parent / "data" / "kb"
KB_NAME = "order-desk"


@dataclass(frozen=True, slots=True)
class DemoSummary:
    products_added: int
    outlets_added: int
    documents_queued: int


def knowledge_documents() -> list[tuple[str, str]]:
    """(file name, markdown) of the order desk's policies, product FAQ and escalation guide."""
    return [(path.name, path.read_text(encoding="utf-8")) for path in sorted(KB_DIR.glob("*.md"))]


async def seed_catalog(
    session: AsyncSession, workspace_id: uuid.UUID, catalog: Catalog | None = None
) -> tuple[int, int]:
    """Adds the demo products, outlets and rules that the workspace lacks; returns (products, outlets) added."""
    catalog = catalog or load_catalog()
    skus = set(await session.scalars(select(Product.sku).where(Product.workspace_id == workspace_id)))
    codes = set(await session.scalars(select(Outlet.code).where(Outlet.workspace_id == workspace_id)))
    products = [p for p in catalog.products if p.sku not in skus]
    outlets = [o for o in catalog.outlets if o.code not in codes]
    for product in products:
        session.add(
            Product(
                workspace_id=workspace_id,
                sku=product.sku,
                name=product.name,
                aliases=list(product.aliases),
                unit=product.unit,
                pack_size=product.pack_size,
                unit_price=product.unit_price,
                category=product.category,
                stock=product.stock,
                min_order=product.min_order,
                active=product.active,
            )
        )
    for outlet in outlets:
        session.add(
            Outlet(
                workspace_id=workspace_id,
                code=outlet.code,
                name=outlet.name,
                aliases=list(outlet.aliases),
                address=outlet.address,
                phones=list(outlet.phones),
                billing_entity=outlet.billing_entity,
                usual_days=list(outlet.usual_days),
            )
        )
    await session.flush()
    for rule in catalog.rules:
        await upsert_rule(session, workspace_id, rule)
    await bump_revision(session, workspace_id)
    return len(products), len(outlets)


async def _queue_documents(ctx: AppContext, workspace_id: uuid.UUID) -> int:
    # Imported here: the knowledge service is optional for the order desk itself (and heavy to import).
    from opsdesk.knowledge import service
    from opsdesk.knowledge.ingest import service as ingest_service
    from opsdesk.knowledge.ingest.staging import SourceFile
    from opsdesk.knowledge.models import Document
    from opsdesk.knowledge.schemas import KnowledgeBaseIn

    async with ctx.db.session() as session:
        try:
            kb = await service.get_kb(session, workspace_id, KB_NAME)
        except NotFound:
            description = "Order desk policies, product FAQ and escalation guide (demo)."
            kb = await service.create_kb(session, workspace_id, KnowledgeBaseIn(name=KB_NAME, description=description))
        present = set(await session.scalars(select(Document.source_key).where(Document.kb_id == kb.id)))
        files = [
            SourceFile(name, text.encode("utf-8"), name, "text/markdown", ["orders", "demo"])
            for name, text in knowledge_documents()
            if name not in present
        ]
        if files:
            await ingest_service.queue_files(session, kb, files)
    return len(files)


async def load_order_demo(ctx: AppContext, workspace_id: uuid.UUID, *, documents: bool = True) -> DemoSummary:
    """Loads the demo catalog and outlets into a workspace and queues the knowledge documents (idempotent)."""
    async with ctx.db.session() as session:
        products, outlets = await seed_catalog(session, workspace_id)
    queued = await _queue_documents(ctx, workspace_id) if documents else 0
    log.info("order_demo_loaded", workspace=str(workspace_id), products=products, outlets=outlets, documents=queued)
    return DemoSummary(products, outlets, queued)
