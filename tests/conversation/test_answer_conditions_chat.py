"""A customer's policy questions through the conversation API keep their conditions (issue 15, item 12): the fee tier
their order's amount falls in, and a later rule that qualifies a time window."""

from __future__ import annotations

from opsdesk.app.context import AppContext
from tests.conftest import Tenant
from tests.conversation.conftest import ChatApi, ingest
from tests.retrieval.test_answer_conditions import DAMAGE, FEES

TERMS = {
    "terms.md": ("Returns, fees and credit terms", f"# Returns, fees and credit terms\n\n## {FEES}\n\n## {DAMAGE}")
}


async def test_a_customer_gets_the_fee_tier_and_the_late_report_rule(
    ctx: AppContext, chat: ChatApi, tenant: Tenant
) -> None:
    await ingest(ctx, tenant, TERMS)

    fee = await chat.said("What is the delivery fee for a $95 order?")
    late = await chat.said(
        "A carton was missing from my delivery two days ago, can I still report it?", "+65 8000 0101"
    )

    assert fee["intent"] == "policy_question", fee
    assert "below SGD 150 — delivery fee: SGD 18 per delivery" in fee["reply"], fee["reply"]
    assert "Minimum order value" not in fee["reply"]
    assert [c["source_key"] for c in fee["citations"]] == ["terms.md"]
    assert "within 48 hours of delivery" in late["reply"], late["reply"]
    assert "reviewed case by case and are not guaranteed" in late["reply"], "the rule that qualifies the window"
    assert '"' not in late["reply"] and "[" not in late["reply"], "a customer reads prose"
