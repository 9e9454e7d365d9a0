"""The banking call flow driven by words and keys (no audio): each path a caller can take, and what it leaves."""

from __future__ import annotations

import re
from datetime import date
from typing import Any

import pytest
from langgraph.checkpoint.memory import InMemorySaver

from opsdesk.voice.banking.backend import (
    BlockConfirmation,
    BlockReason,
    CardStatus,
    CustomerRef,
    LocalBank,
    UnknownCard,
)
from opsdesk.voice.banking.dialogue import replies
from opsdesk.voice.banking.dialogue.dates import spoken_date
from opsdesk.voice.banking.dialogue.flow import BankingFlow, Turn
from tests.voice.banking.dialogue_helpers import banking_flow, customer, spoken


async def _identified(flow: BankingFlow, call_id: str = "call-1", first_name: str = "Alice") -> Turn:
    who = customer(first_name)
    await flow.start(call_id, "+441632960001")
    await flow.answer(call_id, "digits", who.card)
    return await flow.answer(call_id, "digits", who.pin)


def _said(turn: Turn) -> str:
    return " ".join(turn.say)


async def test_card_delivery_status_after_a_keyed_card_number_and_pin() -> None:
    flow = banking_flow()
    alice = customer()
    first = await flow.start("call-1", "+441632960001")
    assert first.step == "number" and replies.ASK_NUMBER in first.say

    asked_pin = await flow.answer("call-1", "digits", alice.card)
    assert asked_pin.step == "pin" and "Alice" not in _said(asked_pin)  # no name before the PIN
    served = await flow.answer("call-1", "digits", alice.pin)
    assert served.auth == "passed" and served.step == "serve" and "Alice" in _said(served)

    answer = await flow.answer("call-1", "text", "Where is my new card?")
    delivery = next(card for card in alice.record["cards"] if card["delivery"])
    assert f"ending {' '.join(delivery['number'][-4:])}" in _said(answer)
    assert "DPD" in _said(answer) and "should arrive by" in _said(answer)
    assert answer.intents == ("card_delivery",) and answer.step == "serve"

    done = await flow.answer("call-1", "text", "no thanks, that's all")
    assert done.end == "hangup" and done.say[-1] == replies.GOODBYE


async def test_a_spoken_account_number_identifies_the_caller() -> None:
    flow = banking_flow()
    await flow.start("call-1", "caller")
    turn = await flow.answer("call-1", "text", f"it's {spoken(customer().account)}")
    assert turn.step == "pin"


async def test_three_wrong_pins_transfer_to_a_person() -> None:
    flow = banking_flow()
    alice = customer()
    await flow.start("call-1", "+441632960001")
    await flow.answer("call-1", "digits", alice.card)
    for attempt in range(2):
        turn = await flow.answer("call-1", "digits", "0000")
        assert turn.step == "pin" and replies.PIN_WRONG in turn.say, attempt
    last = await flow.answer("call-1", "digits", "9999")

    assert last.end == "transfer" and last.auth == "failed"
    assert last.say[-1] == replies.TRANSFER
    assert "wrong PIN three times" in last.summary and "identity check: failed" in last.summary
    assert "0000" not in last.summary and alice.card not in last.summary


async def test_an_unknown_account_is_said_then_a_retry_goes_on() -> None:
    flow = banking_flow()
    await flow.start("call-1", "caller")
    unknown = await flow.answer("call-1", "digits", "12345678")
    assert unknown.step == "number" and replies.unknown_number("5678") in unknown.say
    known = await flow.answer("call-1", "digits", customer().account)
    assert known.step == "pin"


async def test_three_unknown_accounts_transfer_as_unknown_account() -> None:
    flow = banking_flow()
    await flow.start("call-1", "caller")
    for number in ("12345678", "87654321"):
        assert (await flow.answer("call-1", "digits", number)).step == "number"
    last = await flow.answer("call-1", "digits", "11112222")
    assert last.end == "transfer" and last.auth == "unknown_account" and last.end_reason == "unknown account"


async def test_dtmf_garbage_gets_a_clear_reprompt_and_counts_as_a_try() -> None:
    flow = banking_flow()
    await flow.start("call-1", "caller")
    for garbage in ("12*3", ""):
        turn = await flow.answer("call-1", "digits", garbage)
        assert turn.step == "number" and turn.say == (replies.NUMBER_SHAPE, replies.ASK_NUMBER)
    last = await flow.answer("call-1", "digits", "99")
    assert last.end == "transfer"


async def test_a_bank_that_times_out_gets_an_apology_and_a_transfer() -> None:
    flow = banking_flow(LocalBank.from_file(latency=2.0), timeout=0.05)
    await flow.start("call-1", "caller")
    turn = await flow.answer("call-1", "digits", customer().card)

    assert turn.end == "transfer"
    assert turn.say == (replies.BACKEND_DOWN, replies.TRANSFER)
    assert turn.end_reason == "bank back end unavailable" and turn.auth == "backend_unavailable"


async def test_silence_is_prompted_twice_then_the_call_ends_politely() -> None:
    flow = banking_flow()
    await flow.start("call-1", "caller")
    for _ in range(2):
        turn = await flow.answer("call-1", "silence")
        assert turn.say == (replies.NOT_HEARD, replies.ASK_NUMBER)
    last = await flow.answer("call-1", "silence")
    assert last.end == "hangup" and last.end_reason == "silence" and last.say == (replies.SILENT_GOODBYE,)


async def test_a_lost_card_is_blocked_after_a_spoken_yes() -> None:
    bank = LocalBank.from_file()
    flow = banking_flow(bank)
    await _identified(flow)
    alice = customer()
    asked = await flow.answer("call-1", "text", "I lost my card")
    assert asked.step == "confirm_block" and "Please say yes or no" in _said(asked)

    done = await flow.answer("call-1", "text", "yes please")
    assert "is now blocked" in _said(done) and done.step == "serve"
    customer_ref = await bank.find_customer(alice.account)
    blocked = [card for card in await bank.list_cards(customer_ref) if card.status is CardStatus.BLOCKED]
    assert len(blocked) == 1 and blocked[0].last4 in _said(done).replace(" ", "")


async def test_no_card_is_blocked_when_the_caller_says_no() -> None:
    bank = LocalBank.from_file()
    flow = banking_flow(bank)
    await _identified(flow)
    await flow.answer("call-1", "text", "my card was stolen")
    turn = await flow.answer("call-1", "text", "no")
    while turn.step == "confirm_block":  # one question per card
        turn = await flow.answer("call-1", "text", "no")
    assert replies.NOTHING_BLOCKED in turn.say
    customer_ref = await bank.find_customer(customer().account)
    assert all(card.status is not CardStatus.BLOCKED for card in await bank.list_cards(customer_ref))


async def test_asking_for_an_agent_transfers_with_a_summary() -> None:
    flow = banking_flow()
    await _identified(flow)
    await flow.answer("call-1", "text", "where is my new card")
    turn = await flow.answer("call-1", "text", "can I talk to a real person please")

    assert turn.end == "transfer" and turn.end_reason == "caller asked for a person"
    assert "Alice" in turn.summary and "identity check: passed" in turn.summary
    assert "card_delivery, agent" in turn.summary and "talk to a real person" in turn.summary
    assert customer().card not in turn.summary


async def test_a_payment_the_caller_does_not_recognise_is_reported() -> None:
    flow = banking_flow()
    await _identified(flow)
    asked = await flow.answer("call-1", "text", "there is a payment I don't recognise")
    assert asked.step == "dispute"
    bank = LocalBank.from_file()
    spent = [t for t in await bank.last_transactions(await bank.find_customer(customer().account), 10) if t.amount < 0]
    turn = await flow.answer("call-1", "text", f"the one from {spent[0].merchant}")
    assert f"reported the payment to {spent[0].merchant}" in _said(turn) and turn.step == "serve"


async def test_say_that_again_repeats_the_last_answer() -> None:
    flow = banking_flow()
    await _identified(flow)
    answer = await flow.answer("call-1", "text", "what's my balance")
    again = await flow.answer("call-1", "text", "sorry, can you say that again")
    assert again.say == answer.say and "account ending" in _said(again)


async def test_a_request_the_desk_does_not_understand_twice_goes_to_a_person() -> None:
    flow = banking_flow()
    await _identified(flow)
    first = await flow.answer("call-1", "text", "purple elephants")
    assert first.step == "serve" and replies.NOT_UNDERSTOOD in first.say
    second = await flow.answer("call-1", "text", "banana")
    assert second.end == "transfer" and second.end_reason.startswith("desk unsure")


async def test_pins_and_numbers_never_reach_the_checkpoints() -> None:
    saver = InMemorySaver()
    flow = BankingFlow(banking_flow().backend, banking_flow().reader, saver)
    alice = customer()
    await flow.start("call-1", "caller")
    await flow.answer("call-1", "digits", alice.card)
    await flow.answer("call-1", "text", "sorry")  # a stray word at the PIN step
    await flow.answer("call-1", "digits", alice.pin)
    await flow.answer("call-1", "text", f"my account is {spoken(alice.account)}")

    stored = repr(_stored_values(saver))
    for secret in (alice.card, alice.pin, alice.account, spoken(alice.account)):
        assert secret not in stored, secret
    assert "••••" in stored  # what was keyed is there, masked
    await flow.finish("call-1")
    assert not any("call-1" in str(key) for key in saver.storage)


def _stored_values(saver: InMemorySaver) -> list[Any]:
    """Every channel value and pending write the checkpointer holds, decoded (ids and versions left out: random
    hex could contain four digits by chance)."""
    typed = list(saver.blobs.values())
    for writes in saver.writes.values():
        typed += [value for _task, _channel, value, _path in writes.values()]
    return [saver.serde.loads_typed(item) for item in typed if item[0] != "empty"]


@pytest.mark.parametrize(
    ("text", "digits"),
    [
        ("four zero double one 23", "401123"),
        ("I want to talk to someone for my card", ""),
        ("one two three four", "1234"),
    ],
)
def test_spoken_digits(text: str, digits: str) -> None:
    from opsdesk.voice.banking.dialogue.intents import spoken_digits

    assert spoken_digits(text) == digits


async def test_a_long_call_keeps_its_state_bounded() -> None:
    flow = banking_flow()
    await _identified(flow)
    for _ in range(60):
        turn = await flow.answer("call-1", "text", "what's my balance")
    assert turn.step == "serve" and len(turn.trace) <= 50 and len(turn.intents) <= 50


class _RefusingBank(LocalBank):
    """A bank that refuses every block (the card is no longer the caller's, say)."""

    async def block_card(self, customer: CustomerRef, card_id: str, reason: BlockReason) -> BlockConfirmation:
        raise UnknownCard(card_id)


async def test_a_request_the_bank_refuses_goes_to_a_person() -> None:
    flow = banking_flow(_RefusingBank.from_file())
    await _identified(flow)
    await flow.answer("call-1", "text", "block my card please")
    turn = await flow.answer("call-1", "text", "yes")
    assert turn.end == "transfer" and turn.say == (replies.CANNOT_DO, replies.TRANSFER)
    assert turn.end_reason == "the bank refused the request (UnknownCard)"


async def test_without_the_pin_the_date_of_birth_and_security_answer_identify_the_caller() -> None:
    saver = InMemorySaver()
    flow = BankingFlow(banking_flow().backend, banking_flow().reader, saver)
    await flow.start("call-1", "caller")
    await flow.answer("call-1", "digits", customer().card)
    asked = await flow.answer("call-1", "text", "sorry, I forgot my PIN")
    assert asked.step == "dob" and asked.say == (replies.NO_PIN, replies.ASK_DOB)
    question = await flow.answer("call-1", "text", "the 14th of March 1985")
    assert question.step == "secret" and question.say == ("What was the name of your first pet?",)
    through = await flow.answer("call-1", "text", "Fluffy.")
    assert through.auth == "passed" and through.step == "serve"

    stored = repr(_stored_values(saver)).lower()
    assert "1985" not in stored and "fluffy" not in stored and "[withheld]" in stored


async def test_wrong_security_details_three_times_go_to_a_person() -> None:
    flow = banking_flow()
    await flow.start("call-1", "caller")
    await flow.answer("call-1", "digits", customer().card)
    await flow.answer("call-1", "text", "I don't know it")
    for _ in range(2):
        await flow.answer("call-1", "text", "March 14, 1985")
        again = await flow.answer("call-1", "text", "Rex")
        assert again.step == "dob" and again.say == (replies.DETAILS_WRONG, replies.ASK_DOB)
    await flow.answer("call-1", "text", "first of January 1990")
    last = await flow.answer("call-1", "text", "Fluffy")  # right pet, wrong birthday: still no
    assert last.end == "transfer" and last.auth == "failed" and last.end_reason == "identity not confirmed"


@pytest.mark.parametrize(
    ("text", "born"),
    [
        ("the 14th of March 1985", date(1985, 3, 14)),
        ("March 14, 1985", date(1985, 3, 14)),
        ("fourteenth of march nineteen eighty five", date(1985, 3, 14)),
        ("14/03/1985", date(1985, 3, 14)),
        ("14031985", date(1985, 3, 14)),
        ("twenty first of may two thousand and three", date(2003, 5, 21)),
        ("twenty one january twenty oh three", date(2003, 1, 21)),
        ("31 February 1990", None),
        ("fluffy", None),
    ],
)
def test_spoken_dates(text: str, born: date | None) -> None:
    assert spoken_date(text) == born


async def test_no_pin_or_number_reaches_the_logs(
    caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    caplog.set_level("DEBUG")
    ben = customer("Ben")
    flow = banking_flow()
    await flow.start("call-1", "caller")
    await flow.answer("call-1", "digits", "40001234567890")  # not a number of the bank's shape
    await flow.answer("call-1", "digits", "4000123456789010")  # unknown card
    await flow.answer("call-1", "digits", ben.card)
    await flow.answer("call-1", "digits", "1111")
    await flow.answer("call-1", "digits", ben.pin)
    await flow.answer("call-1", "text", f"I lost my card {spoken(ben.card)}")
    await flow.answer("call-1", "text", "yes")

    printed = capsys.readouterr()
    logged = caplog.text + printed.out + printed.err  # structlog prints, or goes through logging once configured
    assert "bank.card_blocked" in logged  # the logs were captured
    for secret in (ben.card, ben.account, "4000123456789010", "40001234567890"):
        assert secret not in logged, secret
    assert not re.search(rf"\b({ben.pin}|1111)\b", logged)
