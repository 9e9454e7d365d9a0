"""What the desk says: templated sentences, numbers read out digit by digit where a caller would write them down
(card endings, references), amounts and dates as words a synthesiser reads naturally."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from opsdesk.voice.banking.backend import Balance, BlockConfirmation, CardDelivery, DeliveryStatus, Transaction

GREETING = "Hello, and welcome to the bank's telephone service."
ASK_NUMBER = "Please key in your account or card number, followed by the hash key, or say it."
ASK_PIN = (
    "Please key in your four digit telephone banking PIN, followed by the hash key. If you do not know it, just say so."
)
NO_PIN = "That's all right: I will ask you two security questions instead."
ASK_DOB = "What is your date of birth?"
DOB_SHAPE = "Sorry, I did not get a date. Please say it like this: the fourteenth of March, nineteen eighty five."
DETAILS_WRONG = "Those details do not match our records."
ASK_NEED = (
    "How can I help? You can ask where your new card is, for your last transactions or your balance, "
    "to block a lost or stolen card, or about a payment you do not recognise."
)
ASK_MORE = "Is there anything else I can help with?"
ASK_WHICH_PAYMENT = "Which payment do you not recognise? Please say the name of the shop or company."
NUMBER_FOUND = "Thank you."
NOT_HEARD = "Sorry, I did not hear anything."
NOT_UNDERSTOOD = "Sorry, I did not understand that."
GOODBYE = "Thank you for calling. Goodbye."
SILENT_GOODBYE = "I still cannot hear you, so I will end the call now. Please call again. Goodbye."
TRANSFER = "I am transferring you to a colleague who can help. Please hold."
BACKEND_DOWN = "I am sorry, our systems are not answering at the moment."
CANNOT_DO = "I am sorry, I cannot do that from here."
DESK_FAILED = "I am sorry, something went wrong on my side."
NUMBER_SHAPE = "That was not an account or card number. An account number has eight digits and a card number sixteen."
PIN_SHAPE = "A PIN has four digits."
PIN_SPOKEN = "For your security, please key your PIN on the keypad instead of saying it."
PIN_WRONG = "That PIN is not right."
TOO_MANY_TRIES = "I could not confirm who you are."
SAY_YES_NO = "Please say yes or no."
NOTHING_BLOCKED = "All right, I have not blocked any card."


def say_digits(digits: str) -> str:
    """ "4821" → "4 8 2 1": synthesisers read each digit instead of "four thousand eight hundred…"."""
    return " ".join(char for char in digits if char.isalnum())


def welcome_back(first_name: str) -> str:
    return f"Thank you, {first_name}, you are through."


def unknown_number(last4: str) -> str:
    return f"I could not find an account or card with the number ending {say_digits(last4)}."


def _day(day: date | None) -> str:
    return "an unknown day" if day is None else f"{day:%A} the {_ordinal(day.day)} of {day:%B}"


def _ordinal(number: int) -> str:
    suffix = "th" if 11 <= number % 100 <= 13 else {1: "st", 2: "nd", 3: "rd"}.get(number % 10, "th")
    return f"{number}{suffix}"


def money(amount: Decimal, currency: str) -> str:
    names = {"GBP": ("pounds", "pence"), "EUR": ("euros", "cents"), "USD": ("dollars", "cents")}
    major, minor = names.get(currency, (currency, "hundredths"))
    whole, cents = divmod(int((abs(amount) * 100).to_integral_value()), 100)
    return f"{whole} {major}" + (f" and {cents} {minor}" if cents else "")


def delivery(item: CardDelivery) -> str:
    card = f"Your new card ending {say_digits(item.last4)}"
    if item.status is DeliveryStatus.ORDERED:
        return f"{card} has been ordered and will be sent out soon."
    if item.status is DeliveryStatus.DISPATCHED:
        sent = f"{card} was sent with {item.courier} on {_day(item.dispatched_on)}."
        return f"{sent} It should arrive by {_day(item.expected_on)}."
    if item.status is DeliveryStatus.OUT_FOR_DELIVERY:
        return f"{card} is out for delivery with {item.courier} today."
    if item.status is DeliveryStatus.DELIVERED:
        return f"{card} was delivered on {_day(item.delivered_on)}."
    return f"{card} was returned to us by {item.courier}. A colleague can arrange to send it again."


def no_delivery() -> str:
    return "I cannot see a new card on its way to you."


def transactions(items: list[Transaction]) -> str:
    if not items:
        return "I cannot see any recent transactions."
    parts = []
    for item in items:
        direction = "paid to" if item.amount < 0 else "received from"
        parts.append(
            f"{money(item.amount, item.currency)} {direction} {item.merchant} on {_day(item.posted_at.date())}"
        )
    return f"Your last {len(items)} transactions are: " + "; ".join(parts) + "."


def balances(items: list[Balance]) -> str:
    if not items:
        return "I cannot see any accounts."
    parts = [
        f"your {item.kind} account ending {say_digits(item.masked_number[-4:])} has "
        + money(item.balance, item.currency)
        + (" overdrawn" if item.balance < 0 else "")
        for item in items
    ]
    return "Right now, " + "; ".join(parts) + "."


def confirm_block(kind: str, last4: str) -> str:
    return f"Shall I block your {kind} card ending {say_digits(last4)}? Please say yes or no."


def blocked(item: BlockConfirmation) -> str:
    if item.already_blocked:
        already = f"Your card ending {say_digits(item.last4)} was already blocked."
        return f"{already} The reference is {say_digits(item.reference)}."
    return (
        f"Your card ending {say_digits(item.last4)} is now blocked. Your reference is {say_digits(item.reference)}. "
        "A replacement card will be sent to you."
    )


def no_card_to_block() -> str:
    return "I cannot see a card that is still active."


def disputed(merchant: str, reference: str, already: bool) -> str:
    if already:
        return f"The payment to {merchant} was already reported. The reference is {say_digits(reference)}."
    return (
        f"I have reported the payment to {merchant} as not recognised. Your reference is {say_digits(reference)}. "
        "We will write to you within five working days."
    )


def no_such_payment(merchant_heard: str) -> str:
    return f"I could not find a recent payment matching {merchant_heard!r}." if merchant_heard else NOT_UNDERSTOOD
