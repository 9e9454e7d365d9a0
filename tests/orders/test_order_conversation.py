"""The order desk behind the conversation runtime: a WhatsApp order, its confirmation, a status question."""

from __future__ import annotations

from pathlib import Path

from opsdesk.conversation.channels import Inbound
from opsdesk.conversation.runtime import handle_turn
from opsdesk.orders.chat.solution import catalog_subjects, register_order_desk
from opsdesk.orders.parsing import load_catalog
from tests.orders.order_helpers import FORM_ORDER, TAMPINES_PHONE, counts, open_desk


async def test_a_whatsapp_order_is_confirmed_through_the_runtime(database_url: str, tmp_path: Path) -> None:
    register_order_desk()
    async with open_desk(database_url, tmp_path) as desk:

        def inbound(text: str, message_id: str) -> Inbound:
            return Inbound(
                channel="whatsapp",
                sender=TAMPINES_PHONE,
                sender_phone=TAMPINES_PHONE,
                text=text,
                solution="orders",
                external_id=message_id,
            )

        asked = await handle_turn(desk.ctx, desk.workspace_id, inbound(FORM_ORDER, "wamid.1"))
        done = await handle_turn(desk.ctx, desk.workspace_id, inbound("YES", "wamid.2"))
        again = await handle_turn(desk.ctx, desk.workspace_id, inbound(FORM_ORDER, "wamid.1"))
        status = await handle_turn(desk.ctx, desk.workspace_id, inbound("where is my order?", "wamid.3"))

        assert asked.intent == "order_placement" and "Reply YES" in asked.reply
        assert asked.metadata["awaiting"] == "confirmation"
        assert done.metadata["order_outcome"] == "completed" and "DO-" in done.reply
        assert again.duplicate and again.reply == asked.reply
        assert status.intent == "order_status" and str(done.metadata["order_number"]) in status.reply
        assert await counts(desk.ctx, desk.workspace_id) == (1, 1, 1)


def test_the_catalog_names_what_questions_are_about() -> None:
    terms = catalog_subjects(load_catalog())
    assert {"box", "liner", "tray", "container", "cup", "lid", "bag", "fork", "spoon", "napkin"} <= terms.kinds
    assert {"kraft", "plastic", "premium", "regular", "wooden"} <= terms.qualifiers
    assert not {"cm", "ml", "oz"} & (terms.kinds | terms.qualifiers), "sizes are numbers, checked elsewhere"
    # Paraphrases keep their subject; another product is another question.
    assert terms.agree("Are your containers microwave safe?", "can the round containers go in the microwave?")
    assert terms.agree("Do you sell liners separately?", "can I buy pizza box liners on their own?")
    assert terms.agree("How many boxes are in a bundle?", "how many pizza boxes per bundle")
    assert not terms.agree("Are your containers microwave safe?", "Are your meal trays microwave safe?")
    assert not terms.agree("Do you sell liners separately?", "Do you sell lids separately?")
    assert not terms.agree("Is the kraft bag recyclable?", "Is the plastic bag recyclable?")
