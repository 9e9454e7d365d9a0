"""The demo: catalog, outlets and rules in a workspace, and the order desk's documents queued for its knowledge base."""

from __future__ import annotations

from sqlalchemy import func, select

from opsdesk.app.context import AppContext
from opsdesk.knowledge.models import Document, KnowledgeBase
from opsdesk.orders.demo import KB_NAME, knowledge_documents, load_order_demo
from opsdesk.orders.models import DerivedRule, Outlet, Product
from tests.conftest import Tenant


async def test_the_demo_loads_once_and_queues_the_policy_documents(ctx: AppContext, tenant: Tenant) -> None:
    first = await load_order_demo(ctx, tenant.workspace_id)
    again = await load_order_demo(ctx, tenant.workspace_id)

    documents = len(knowledge_documents())
    assert (first.products_added, first.outlets_added, first.documents_queued) == (37, 21, documents)
    assert (again.products_added, again.outlets_added, again.documents_queued) == (0, 0, 0)
    async with ctx.db.session() as session:
        assert await session.scalar(select(func.count()).select_from(Product)) == 37
        assert await session.scalar(select(func.count()).select_from(Outlet)) == 21
        assert await session.scalar(select(func.count()).select_from(DerivedRule)) == 1
        kb = await session.scalar(select(KnowledgeBase).where(KnowledgeBase.name == KB_NAME))
        assert kb is not None
        keys = set(await session.scalars(select(Document.source_key).where(Document.kb_id == kb.id)))
    names = dict(knowledge_documents())
    assert keys == set(names)
    assert {"escalation-guide.md", "ordering-policy.md", "product-faq.md", "returns-fees-and-credit.md"} <= keys
    assert "Net 30" in names["ordering-policy.md"] and "CONFIRM" in names["ordering-policy.md"]
