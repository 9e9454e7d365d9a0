"""The order desk as a real outlet meets it, through the runtime and the HTTP API: its own order form with header
and footer lines, per-piece counts and answers in any unit, odd numbers, skipping a line, asking for a person, a
question never asked a third time, and a second order form while a draft waits for YES."""

from __future__ import annotations

from pathlib import Path

import httpx
from sqlalchemy import select

from opsdesk.auth.roles import Role
from opsdesk.conversation.channels import Inbound
from opsdesk.conversation.models import Escalation
from opsdesk.conversation.runtime import handle_turn
from opsdesk.orders.chat.solution import register_order_desk
from opsdesk.orders.models import Order, OrderLine
from tests.orders.order_helpers import Desk, open_desk

MARINA_PHONE = "+65 9123 4501"
REAL_FORM = (
    "*ORDER FORM* 🍕\n"
    "🔸 Outlet Address: 12 Marina Blvd #01-05\n"
    "🔸 Contact Person: Mei Ling\n"
    "🔸 Contact Number: 9123 4501\n\n"
    '📦 10" Regular Box (100/bundle): 600\n'
    '📦 12" Regular Box (100/bundle): 2000\n'
    '📦 14" Regular Box (50/bundle): \n'
    "📦 Liner (100/pack): \n\n"
    "Note: liner will be provided according to the ordered quantity of boxes\n"
    "Orders will be automatically processed for the next delivery\n"
    "Need delivery tomorrow if possible!"
)


async def _say(http: httpx.AsyncClient, desk: Desk, session: str, text: str, phone: str = MARINA_PHONE) -> dict:
    body = {"session_id": session, "sender_phone": phone, "text": text}
    response = await http.post(desk.url("/orders/messages"), json=body, headers=desk.tenant.headers(Role.service))
    assert response.status_code == 200, response.text
    return dict(response.json())


async def _lines(desk: Desk, number: str) -> dict[str, int]:
    async with desk.ctx.db.session() as session:
        order = await session.scalar(select(Order).where(Order.number == number))
        assert order is not None
        rows = await session.scalars(select(OrderLine).where(OrderLine.order_id == order.id))
        return {row.sku: row.quantity for row in rows if not row.derived}


async def test_a_real_order_form_goes_through_as_sent(desk: Desk, http: httpx.AsyncClient) -> None:
    reply = await _say(http, desk, "form", REAL_FORM, phone="+65 8000 0000")  # an unregistered phone

    assert reply["awaiting"] == "confirmation", reply["reply"]
    assert "Outlet Address" not in reply["reply"] and "catalog" not in reply["reply"]
    assert "Your note: Need delivery tomorrow if possible!" in reply["reply"]
    assert await _lines(desk, reply["order_number"]) == {"PB-10R": 6, "PB-12R": 20}
    async with desk.ctx.db.session() as session:
        order = await session.scalar(select(Order).where(Order.number == reply["order_number"]))
        assert order is not None and order.outlet_code == "SR-MB"
        assert any("Need delivery tomorrow if possible!" in note for note in order.notes)


SHEET_FORM = (
    "Nonna's Kitchen - PO 8812\n"
    "Code\tDescription\tQty\tUOM\n"
    'PB-10P\t10" Premium Pizza Box\t4\tBDL\n'
    'PB-14P\t14" Premium Pizza Box\t\tBDL\n'
    "CS-BB\tBamboo Chopsticks\t1\tCTN\n\n"
    "Deliver before 11am pls"
)


async def test_a_form_pasted_from_a_spreadsheet_goes_through_as_sent(desk: Desk, http: httpx.AsyncClient) -> None:
    reply = await _say(http, desk, "sheet", SHEET_FORM, phone="+65 8000 0000")

    assert reply["awaiting"] == "confirmation", reply["reply"]
    assert "PB-14P" not in reply["reply"] and "UOM" not in reply["reply"]
    assert await _lines(desk, reply["order_number"]) == {"PB-10P": 4, "CS-BB": 1}
    async with desk.ctx.db.session() as session:
        order = await session.scalar(select(Order).where(Order.number == reply["order_number"]))
        assert order is not None and order.outlet_code == "NK-HV"


async def test_a_chat_export_with_a_quoted_reply_and_a_range_is_asked_about_the_range_only(
    desk: Desk, http: httpx.AsyncClient
) -> None:
    text = (
        '[09/12/26, 9:15 am] Mei Ling: > Your order: 5 bundles of 12" Regular Pizza Box. Reply YES to confirm.\n'
        "[09/12/26, 9:16 am] Mei Ling: 10 inch plain box 3-4 bdl\n"
        "[09/12/26, 9:16 am] Mei Ling: liner 2 pkt"
    )
    asked = await _say(http, desk, "export", text)
    assert asked["awaiting"] == "clarification", asked["reply"]
    assert "3-4" in asked["reply"] and '12" Regular' not in asked["reply"]

    drafted = await _say(http, desk, "export", "4 bdl")
    assert drafted["awaiting"] == "confirmation", drafted["reply"]
    assert await _lines(desk, drafted["order_number"]) == {"PB-10R": 4, "PL-GP": 2}


async def test_a_derived_item_is_shown_with_the_rule_that_added_it(desk: Desk, http: httpx.AsyncClient) -> None:
    reply = await _say(http, desk, "rule", "Outlet: Nonna's Kitchen\n12 inch premium box: 3 bdl")
    assert "Greaseproof Pizza Box Liner (included, no charge: Premium pizza boxes ship with one" in reply["reply"]


async def test_an_answer_to_a_quantity_question_is_read_in_the_unit_the_customer_used(
    desk: Desk, http: httpx.AsyncClient
) -> None:
    answers = (("pcs", "2000 pcs", 20), ("bdl", "20 bundles", 20), ("bare", "20", 20), ("kilo", "2.5k", 25))
    for session, answer, bundles in answers:
        asked = await _say(http, desk, session, "12 inch regular box pls")
        assert asked["awaiting"] == "clarification"
        drafted = await _say(http, desk, session, answer)
        assert drafted["awaiting"] == "confirmation", drafted["reply"]
        assert await _lines(desk, drafted["order_number"]) == {"PB-12R": bundles}


async def test_a_count_that_is_not_a_plain_whole_number_is_asked_again_never_changed(
    desk: Desk, http: httpx.AsyncClient
) -> None:
    for session, odd in (("half", "½"), ("neg", "-5"), ("hex", "0x10"), ("exp", "1e9")):
        first = await _say(http, desk, session, f"12 inch regular box x {odd}")
        assert first["awaiting"] == "clarification" and first["order_number"] is None, first["reply"]
        again = await _say(http, desk, session, odd)
        assert again["awaiting"] == "clarification" and again["order_number"] is None, again["reply"]


async def test_a_customer_can_skip_a_line_they_were_asked_about(desk: Desk, http: httpx.AsyncClient) -> None:
    asked = await _say(http, desk, "skip", "10 inch regular box 3 bdl\n5 ctn paper straws")
    assert asked["awaiting"] == "clarification" and "straws" in asked["reply"]

    drafted = await _say(http, desk, "skip", "skip that line")

    assert drafted["awaiting"] == "confirmation", drafted["reply"]
    assert await _lines(desk, drafted["order_number"]) == {"PB-10R": 3}


async def test_the_same_question_is_never_asked_a_third_time(database_url: str, tmp_path: Path) -> None:
    register_order_desk()
    async with open_desk(database_url, tmp_path) as desk:

        async def say(text: str, n: int) -> str:
            inbound = Inbound(
                channel="whatsapp", sender=MARINA_PHONE, sender_phone=MARINA_PHONE, text=text, solution="orders",
                external_id=f"wamid.loop.{n}",
            )  # fmt: skip
            return (await handle_turn(desk.ctx, desk.workspace_id, inbound)).reply

        first = await say("10 inch regular box 3 bdl and 5 ctn of the blue ones", 1)
        second = await say("5 ctn blue ones", 2)
        third = await say("5 ctn of blue ones pls", 3)

        assert "blue" in first and "blue" in second
        assert "colleague" in third and '10" Regular Pizza Box' in third  # handed over, with the draft
        async with desk.ctx.db.session() as session:
            cases = list(await session.scalars(select(Escalation).where(Escalation.workspace_id == desk.workspace_id)))
        assert len(cases) == 1 and '10" Regular Pizza Box' in cases[0].reason


async def test_asking_for_a_person_hands_the_draft_to_staff(desk: Desk, http: httpx.AsyncClient) -> None:
    await _say(http, desk, "person", "10 inch regular box 3 bdl, 2 ctn of the special cups")
    reply = await _say(http, desk, "person", "can I talk to a person please")
    assert reply["outcome"] == "handed_over" and reply["escalate"]


async def test_a_new_order_form_while_a_draft_waits_is_not_merged_into_it(desk: Desk, http: httpx.AsyncClient) -> None:
    first = await _say(http, desk, "two", REAL_FORM)
    second_form = "Another order for Saturday pls\n" + REAL_FORM.replace("600", "300").replace(": 2000", ": 500")

    asked = await _say(http, desk, "two", second_form)
    assert "REPLACE or SECOND" in asked["reply"]
    assert await _lines(desk, first["order_number"]) == {"PB-10R": 6, "PB-12R": 20}  # untouched

    kept = await _say(http, desk, "two", "second")
    assert "YES" in kept["reply"]
    placed = await _say(http, desk, "two", "YES")
    assert first["order_number"] in placed["reply"] and placed["awaiting"] == "confirmation"
    assert placed["order_number"] != first["order_number"]
    assert await _lines(desk, placed["order_number"]) == {"PB-10R": 3, "PB-12R": 5}


async def test_a_new_order_form_can_replace_the_waiting_draft(desk: Desk, http: httpx.AsyncClient) -> None:
    first = await _say(http, desk, "swap", REAL_FORM)
    await _say(http, desk, "swap", "New order\n" + REAL_FORM.replace("600", "900"))

    replaced = await _say(http, desk, "swap", "replace")

    assert replaced["awaiting"] == "confirmation" and replaced["order_number"] != first["order_number"]
    assert await _lines(desk, replaced["order_number"]) == {"PB-10R": 9, "PB-12R": 20}
    async with desk.ctx.db.session() as session:
        old = await session.scalar(select(Order).where(Order.number == first["order_number"]))
        assert old is not None and old.status == "cancelled"


async def test_a_correction_while_a_draft_waits_still_changes_it(desk: Desk, http: httpx.AsyncClient) -> None:
    first = await _say(http, desk, "fix", REAL_FORM)
    changed = await _say(http, desk, "fix", 'sorry, change 12" box to 5 bundles')
    assert "REPLACE" not in changed["reply"]
    assert await _lines(desk, first["order_number"]) == {"PB-10R": 6, "PB-12R": 5}


async def test_a_line_taken_out_while_a_draft_waits_leaves_the_draft(desk: Desk, http: httpx.AsyncClient) -> None:
    first = await _say(http, desk, "out", "10 inch regular box 4 bdl\nliner 3 pkt\npizza saver 1 ctn")
    assert await _lines(desk, first["order_number"]) == {"PB-10R": 4, "PL-GP": 3, "PS-TR": 1}

    await _say(http, desk, "out", "boss no need the pizza saver already")

    assert await _lines(desk, first["order_number"]) == {"PB-10R": 4, "PL-GP": 3}
    placed = await _say(http, desk, "out", "YES")
    assert placed["outcome"] == "completed", placed["reply"]


async def test_a_reply_names_a_line_of_the_draft_by_its_kind(desk: Desk, http: httpx.AsyncClient) -> None:
    first = await _say(http, desk, "kind", "500ml round container 4 ctn\nround lid 4 ctn\nchopsticks 1 ctn")
    assert await _lines(desk, first["order_number"]) == {"RC-500": 4, "RC-LID": 4, "CS-BB": 1}

    await _say(http, desk, "kind", "the cover make it 6 pls")  # of six lids in the catalog, the draft's

    assert await _lines(desk, first["order_number"]) == {"RC-500": 4, "RC-LID": 6, "CS-BB": 1}


async def test_a_reply_swaps_one_product_for_another(desk: Desk, http: httpx.AsyncClient) -> None:
    first = await _say(http, desk, "swap", "500ml round container 4 ctn\nround lid 4 ctn")

    await _say(http, desk, "swap", "pls change the 500ml container to 750ml container, same 4 ctn")

    assert await _lines(desk, first["order_number"]) == {"RC-750": 4, "RC-LID": 4}


async def test_a_tenfold_first_order_needs_confirm_when_other_outlets_order_less(
    desk: Desk, http: httpx.AsyncClient
) -> None:
    for n, phone in enumerate(("+65 9123 4502", "+65 9123 4503", "+65 9234 1188")):  # three outlets' usual orders
        await _say(http, desk, f"usual-{n}", "10 inch regular box 5 bdl", phone=phone)
        placed = await _say(http, desk, f"usual-{n}", "YES", phone=phone)
        assert placed["outcome"] == "completed", placed["reply"]

    first = await _say(http, desk, "big", "10 inch regular box 50 bdl", phone="+65 9345 2210")  # Ah Hock's first order
    assert "CONFIRM" in first["reply"] and "usually order" in first["reply"]
    yes = await _say(http, desk, "big", "YES", phone="+65 9345 2210")
    assert yes["order_status"] == "awaiting_confirmation"
    confirmed = await _say(http, desk, "big", "CONFIRM", phone="+65 9345 2210")
    assert confirmed["outcome"] == "completed"
