"""The bank behind the voice desk: who is calling, are they who they say, their cards, money, blocks and disputes."""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import fields, is_dataclass
from datetime import timedelta
from typing import Any

import pytest

from opsdesk.core.masking import mask_digits, mask_number, mask_text
from opsdesk.voice.banking.backend import (
    DEMO_BANK_FILE,
    BackendUnavailable,
    BankBackend,
    BlockReason,
    CardStatus,
    CustomerRef,
    DeliveryStatus,
    LocalBank,
    TimeoutBackend,
    UnknownCard,
    UnknownCustomer,
    UnknownTransaction,
)
from opsdesk.voice.banking.backend.hashing import hash_secret, normalise_answer, verify_secret
from opsdesk.voice.banking.demo import AS_OF, DEMO_CALLERS, build_demo_bank

ALICE = DEMO_CALLERS[0]
DATA: dict[str, Any] = json.loads(DEMO_BANK_FILE.read_text(encoding="utf-8"))
ALICE_CARD = DATA["customers"][0]["cards"][0]["number"]
ALICE_ACCOUNT = DATA["customers"][0]["accounts"][0]["number"]
ALL_NUMBERS = [item["number"] for customer in DATA["customers"] for item in [*customer["accounts"], *customer["cards"]]]


@pytest.fixture
def bank() -> LocalBank:
    return LocalBank(DATA, today=AS_OF)


async def _alice(bank: BankBackend) -> CustomerRef:
    return await bank.find_customer(ALICE_CARD)


def _texts(value: Any) -> str:
    """Everything a returned object says, fields included."""
    if is_dataclass(value) and not isinstance(value, type):
        return " ".join(_texts(getattr(value, item.name)) for item in fields(value))
    if isinstance(value, list | tuple):
        return " ".join(_texts(item) for item in value)
    return str(value)


def _logged(caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]) -> str:
    """What was logged, whether structlog goes through the standard library or prints (as in tests)."""
    captured = capsys.readouterr()
    return caplog.text + captured.out + captured.err


def test_demo_file_is_what_the_generator_makes_and_its_cards_are_real_card_numbers() -> None:
    assert build_demo_bank() == DATA
    assert len(DATA["customers"]) == 20
    assert all(len(customer["transactions"]) == 30 for customer in DATA["customers"])
    assert ALICE_CARD.endswith("4821")
    for customer in DATA["customers"]:
        for card in customer["cards"]:
            assert mask_text(card["number"]) == f"[card ****{card['number'][-4:]}]"  # Luhn-valid
        assert all(len(value) > 40 for key, value in customer.items() if key.endswith("_hash"))


async def test_local_and_timeout_banks_are_bank_backends(bank: LocalBank) -> None:
    assert isinstance(bank, BankBackend)
    assert isinstance(TimeoutBackend(bank), BankBackend)


async def test_caller_is_found_by_card_number_spoken_with_spaces(bank: LocalBank) -> None:
    spoken = " ".join(ALICE_CARD[i : i + 4] for i in range(0, 16, 4))
    customer = await bank.find_customer(spoken)
    assert customer == CustomerRef("C001", "Alice", "card", "••••4821")


async def test_caller_is_found_by_account_number(bank: LocalBank) -> None:
    customer = await bank.find_customer(ALICE_ACCOUNT)
    assert (customer.customer_id, customer.matched_by) == ("C001", "account")
    assert customer.masked_number == f"••••{ALICE_ACCOUNT[-4:]}"
    assert ALICE_ACCOUNT not in repr(customer)


async def test_unknown_number_is_an_unknown_customer(bank: LocalBank) -> None:
    with pytest.raises(UnknownCustomer):
        await bank.find_customer("4000 0000 0000 0002")
    with pytest.raises(UnknownCustomer):
        await bank.list_cards(CustomerRef("C999", "Nobody", "card", "••••0000"))


async def test_right_pin_passes_wrong_pin_fails_and_neither_is_logged(
    bank: LocalBank, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    caplog.set_level(logging.DEBUG)
    customer = await _alice(bank)
    assert await bank.verify_pin(customer, ALICE.pin) is True
    assert await bank.verify_pin(customer, "1 2 3 4") is True  # read out by the ASR
    assert await bank.verify_pin(customer, "9999") is False
    assert await bank.verify_pin(customer, "") is False
    logged = _logged(caplog, capsys)
    assert "bank.verify_pin" in logged
    assert "9999" not in logged
    assert ALICE.pin not in logged


async def test_pin_checks_leave_the_event_loop_free_for_other_calls(bank: LocalBank) -> None:
    customer = await _alice(bank)
    order: list[str] = []

    async def verify() -> None:
        await bank.verify_pin(customer, ALICE.pin)
        order.append("verified")

    async def another_call() -> None:
        order.append("another call ran")

    await asyncio.gather(verify(), another_call())
    assert order == ["another call ran", "verified"]


async def test_nothing_returned_or_logged_carries_a_pin_or_full_number(
    bank: LocalBank, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    caplog.set_level(logging.DEBUG)
    customer = await _alice(bank)
    await bank.verify_pin(customer, ALICE.pin)
    cards = await bank.list_cards(customer)
    transactions = await bank.last_transactions(customer, 30)
    results = [
        customer,
        cards,
        await bank.card_deliveries(customer),
        transactions,
        await bank.balances(customer),
        await bank.block_card(customer, cards[0].card_id, BlockReason.LOST),
        await bank.report_dispute(customer, transactions[0].transaction_id, "I never bought this"),
    ]
    logged = _logged(caplog, capsys)
    assert "bank.card_blocked" in logged and "bank.dispute_reported" in logged
    said = _texts(results) + " " + logged
    assert not [number for number in ALL_NUMBERS if number in said]
    assert ALICE.pin not in said.replace(".", " ")  # amounts such as 12.34 are not a PIN


async def test_date_of_birth_and_security_answer_are_normalised(bank: LocalBank) -> None:
    customer = await _alice(bank)
    assert await bank.security_question(customer) == "What was the name of your first pet?"
    assert await bank.verify_identity(customer, ALICE.date_of_birth, "Fluffy ")
    assert await bank.verify_identity(customer, ALICE.date_of_birth, "fluffy")
    assert await bank.verify_identity(customer, ALICE.date_of_birth, "  FLUFFY!")
    assert not await bank.verify_identity(customer, ALICE.date_of_birth, "Fluff")
    assert not await bank.verify_identity(customer, ALICE.date_of_birth + timedelta(days=1), "Fluffy")
    liam = await bank.find_customer(DATA["customers"][11]["cards"][0]["number"])
    assert await bank.verify_identity(liam, DEMO_CALLERS[11].date_of_birth, "st patricks")


def test_secrets_are_salted_hashes() -> None:
    first, second = hash_secret("fluffy"), hash_secret("fluffy")
    assert first != second and "fluffy" not in first
    assert verify_secret(normalise_answer("Fluffy "), first)
    assert not verify_secret("fluffy", "not-a-hash")
    assert not verify_secret("fluffy", "md5$1$2$3$00$00")


async def test_card_delivery_status_with_its_courier_and_dates(bank: LocalBank) -> None:
    deliveries = await bank.card_deliveries(await _alice(bank))
    assert len(deliveries) == 1
    delivery = deliveries[0]
    assert delivery.status is DeliveryStatus.DISPATCHED
    assert delivery.courier
    assert delivery.dispatched_on is not None and delivery.expected_on is not None
    assert delivery.ordered_on < delivery.dispatched_on <= AS_OF < delivery.expected_on
    assert delivery.delivered_on is None
    cards = {card.card_id: card for card in await bank.list_cards(await _alice(bank))}
    assert cards[delivery.card_id].status is CardStatus.NOT_ACTIVATED


async def test_every_delivery_status_is_in_the_demo_and_dates_fit_it(bank: LocalBank) -> None:
    seen: dict[DeliveryStatus, int] = {}
    for record in DATA["customers"]:
        for delivery in await bank.card_deliveries(await bank.find_customer(record["accounts"][0]["number"])):
            seen[delivery.status] = seen.get(delivery.status, 0) + 1
            if delivery.status is DeliveryStatus.ORDERED:
                assert delivery.dispatched_on is None
            if delivery.status is DeliveryStatus.DELIVERED:
                assert delivery.delivered_on is not None
            if delivery.status is DeliveryStatus.RETURNED:
                assert delivery.expected_on is None
    assert set(seen) == set(DeliveryStatus)
    assert (await bank.card_deliveries(await bank.find_customer(DATA["customers"][5]["cards"][0]["number"]))) == []


async def test_dates_move_with_today_so_the_demo_stays_current() -> None:
    later = LocalBank(DATA, today=AS_OF + timedelta(days=40))
    now = LocalBank(DATA, today=AS_OF)
    moved = await later.card_deliveries(await _alice(later))
    fixed = await now.card_deliveries(await _alice(now))
    assert moved[0].expected_on == fixed[0].expected_on + timedelta(days=40)  # type: ignore[operator]


async def test_last_transactions_are_newest_first(bank: LocalBank) -> None:
    customer = await _alice(bank)
    everything = await bank.last_transactions(customer, 100)
    assert len(everything) == 30
    assert [item.posted_at for item in everything] == sorted((item.posted_at for item in everything), reverse=True)
    latest = await bank.last_transactions(customer, 5)
    assert latest == everything[:5]
    assert all(item.merchant and item.currency in {"GBP", "EUR"} for item in latest)
    assert await bank.last_transactions(customer, 0) == []


async def test_balance_per_account(bank: LocalBank) -> None:
    balances = await bank.balances(await _alice(bank))
    assert [item.kind for item in balances] == ["current", "savings"]
    current = balances[0]
    assert current.available - current.balance == 500
    assert current.masked_number == mask_number(ALICE_ACCOUNT)


async def test_blocking_a_card_twice_gives_the_same_reference(bank: LocalBank) -> None:
    customer = await _alice(bank)
    card = (await bank.list_cards(customer))[0]
    first = await bank.block_card(customer, card.card_id, BlockReason.STOLEN)
    second = await bank.block_card(customer, card.card_id, BlockReason.LOST)
    assert first.reference.startswith("BLK-") and second.reference == first.reference
    assert (first.already_blocked, second.already_blocked) == (False, True)
    assert second.reason is BlockReason.STOLEN and second.last4 == "4821"
    assert (await bank.list_cards(customer))[0].status is CardStatus.BLOCKED


async def test_a_card_of_someone_else_cannot_be_blocked(bank: LocalBank) -> None:
    ben = await bank.find_customer(DATA["customers"][1]["cards"][0]["number"])
    with pytest.raises(UnknownCard):
        await bank.block_card(ben, "C001-K1", BlockReason.LOST)


async def test_dispute_returns_a_case_reference_once_per_transaction(bank: LocalBank) -> None:
    customer = await _alice(bank)
    transaction = (await bank.last_transactions(customer, 1))[0]
    case = await bank.report_dispute(customer, transaction.transaction_id, "not me")
    again = await bank.report_dispute(customer, transaction.transaction_id, "still not me")
    assert case.reference.startswith("DSP-") and again.reference == case.reference and again.already_reported
    with pytest.raises(UnknownTransaction):
        await bank.report_dispute(customer, "C002-T001", "not mine either")


async def test_timeout_wrapper_passes_answers_through() -> None:
    bank = TimeoutBackend(LocalBank(DATA, today=AS_OF), timeout=5.0)
    customer = await _alice(bank)
    assert customer.customer_id == "C001"
    assert await bank.verify_pin(customer, ALICE.pin)
    with pytest.raises(UnknownCustomer):
        await bank.find_customer("123")


async def test_a_bank_that_does_not_answer_in_time_is_unavailable() -> None:
    slow = LocalBank(DATA, today=AS_OF, latency=30.0)
    bank = TimeoutBackend(slow, timeout=0.05)
    with pytest.raises(BackendUnavailable, match="did not answer find_customer"):
        await bank.find_customer(ALICE_CARD)


class _UnreachableBank(LocalBank):
    """A bank's HTTP API whose host refuses connections."""

    async def find_customer(self, number: str) -> CustomerRef:
        raise ConnectionRefusedError(111, "Connection refused")


async def test_a_bank_that_cannot_be_reached_is_unavailable() -> None:
    bank = TimeoutBackend(_UnreachableBank(DATA, today=AS_OF), timeout=1.0)
    with pytest.raises(BackendUnavailable, match="could not be reached"):
        await bank.find_customer(ALICE_CARD)


def test_numbers_are_masked_to_their_last_four_digits() -> None:
    assert mask_number("4000 6504 8622 4821") == "••••4821"
    assert mask_digits("my card is 4000 6504 8622 4821, thanks") == "my card is ••••4821, thanks"
    assert mask_digits("account 44763531.") == "account ••••3531."
    assert mask_digits("four four seven six three five three one") == "••••3531"
    untouched = "PIN 1234, I paid 23.40 on the 5th, no one came"
    assert mask_digits(untouched) == untouched
    assert mask_digits("one two three") == "one two three"
