"""What the caller wants, as one of the flow's own intents: keyword rules for the short answers (yes, no, a person,
say it again, goodbye), then the Banking77 classifier mapped onto the services the desk offers, then keyword rules
for those services when the classifier is unsure or not loaded."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import StrEnum

import numpy as np

from opsdesk.voice.banking.intents import BankingIntentClassifier


class FlowIntent(StrEnum):
    YES = "yes"
    NO = "no"
    AGENT = "agent"
    REPEAT = "repeat"
    GOODBYE = "goodbye"
    CARD_DELIVERY = "card_delivery"
    TRANSACTIONS = "transactions"
    BALANCE = "balance"
    BLOCK_CARD = "block_card"
    DISPUTE = "dispute"
    OTHER = "other"  # a banking need the desk does not serve: a person takes it
    UNCLEAR = "unclear"  # nothing understood


# Banking77 intents the desk serves; every other Banking77 intent is OTHER (a person takes the call).
BANKING77_TO_FLOW: dict[str, FlowIntent] = {
    "card_arrival": FlowIntent.CARD_DELIVERY,
    "card_delivery_estimate": FlowIntent.CARD_DELIVERY,
    "balance_not_updated_after_bank_transfer": FlowIntent.BALANCE,
    "balance_not_updated_after_cheque_or_cash_deposit": FlowIntent.BALANCE,
    "lost_or_stolen_card": FlowIntent.BLOCK_CARD,
    "compromised_card": FlowIntent.BLOCK_CARD,
    "card_payment_not_recognised": FlowIntent.DISPUTE,
    "direct_debit_payment_not_recognised": FlowIntent.DISPUTE,
    "cash_withdrawal_not_recognised": FlowIntent.DISPUTE,
    "transaction_charged_twice": FlowIntent.DISPUTE,
    "extra_charge_on_statement": FlowIntent.DISPUTE,
}

_SHORT_ANSWERS: tuple[tuple[FlowIntent, re.Pattern[str]], ...] = (
    (FlowIntent.AGENT, re.compile(r"\b(agent|operator|person|human|somebody|someone real|representative|advisor)\b")),
    (FlowIntent.REPEAT, re.compile(r"\b(repeat|say (that|it) again|come again|pardon|what did you say)\b")),
    (FlowIntent.GOODBYE, re.compile(r"\b(goodbye|good bye|bye|that'?s all|nothing else|no thanks?|no thank you)\b")),
    (FlowIntent.NO, re.compile(r"^\W*(no|nope|nah|don'?t|do not|not now|cancel|stop)\b")),
    (FlowIntent.YES, re.compile(r"^\W*(yes|yeah|yep|yup|sure|correct|right|please do|go ahead|ok(ay)?|do it)\b")),
)

# Used when the classifier is unsure or absent: words a caller of this desk uses for its services.
_SERVICE_WORDS: tuple[tuple[FlowIntent, re.Pattern[str]], ...] = (
    (
        FlowIntent.BLOCK_CARD,
        re.compile(r"\b(block|freeze|lost|stolen|stole|took my (wallet|purse|card)|missing card|cancel my card)\b"),
    ),
    (
        FlowIntent.DISPUTE,
        re.compile(
            r"\b(dispute|don'?t recogni[sz]e|not recogni[sz]ed|(didn'?t|never|did not) (make|made|authori[sz]e)|"
            r"wasn'?t me|fraud|charged twice)\b"
        ),
    ),
    (
        FlowIntent.CARD_DELIVERY,
        re.compile(r"\b(new card|card (arrive|arrival|delivery|come)|deliver|where is my card|posted)\b"),
    ),
    (FlowIntent.TRANSACTIONS, re.compile(r"\b(transactions?|statement|payments?|spent|spend|spending|purchases?)\b")),
    (
        FlowIntent.BALANCE,
        re.compile(
            r"\b(balance|how much (money )?(do )?i (have|got)|how much is (in|on) my|money (is )?left|available)\b"
        ),
    ),
)
# Services Banking77 has no intent for: its nearest intents are wrong with confidence ("how much money do I have"
# reads as exchange_rate), so their words are heard before the classifier.
_UNCOVERED = (FlowIntent.BALANCE, FlowIntent.TRANSACTIONS)

Embed = Callable[[list[str]], Awaitable[list[list[float]]]]


@dataclass(frozen=True, slots=True)
class Reading:
    """The flow intent of an utterance, and where it came from (for the call record and the transfer summary)."""

    intent: FlowIntent
    source: str  # keyword | banking77 | service-words | none
    banking77: str | None = None
    confidence: float = 0.0


def short_answer(text: str) -> FlowIntent | None:
    """Yes, no, a person, say it again or goodbye, by keyword; None for anything else."""
    lowered = text.lower().strip()
    for intent, pattern in _SHORT_ANSWERS:
        if pattern.search(lowered):
            return intent
    return None


def service_words(text: str) -> FlowIntent | None:
    lowered = text.lower()
    for intent, pattern in _SERVICE_WORDS:
        if pattern.search(lowered):
            return intent
    return None


class IntentReader:
    """Keyword rules and the Banking77 classifier (optional: without it, keyword rules alone)."""

    def __init__(
        self, classifier: BankingIntentClassifier | None = None, embed: Embed | None = None, threshold: float = 0.4
    ) -> None:
        self.classifier = classifier if embed is not None else None
        self._embed = embed
        self.threshold = threshold

    def use(self, classifier: BankingIntentClassifier, embed: Embed) -> None:
        """Switches to the classifier once it is loaded (keyword rules until then)."""
        self.classifier, self._embed = classifier, embed

    async def read(self, text: str) -> Reading:
        if not text.strip():
            return Reading(FlowIntent.UNCLEAR, "none")
        quick = short_answer(text)
        if quick is not None:
            return Reading(quick, "keyword")
        words = service_words(text)
        if words in _UNCOVERED:
            return Reading(words, "service-words")
        score = None
        if self.classifier is not None and self._embed is not None:
            vector = np.asarray((await self._embed([text]))[0], dtype=np.float32)
            score = self.classifier.classify(vector, text)
            mapped = BANKING77_TO_FLOW.get(score.intent)
            if mapped is not None and score.confidence >= self.threshold:
                return Reading(mapped, "banking77", score.intent, score.confidence)
        if words is not None:
            return Reading(words, "service-words", score.intent if score else None, score.confidence if score else 0.0)
        if score is not None and score.confidence >= self.threshold:
            return Reading(FlowIntent.OTHER, "banking77", score.intent, score.confidence)
        return Reading(FlowIntent.UNCLEAR, "none", score.intent if score else None, score.confidence if score else 0.0)


_DIGIT_WORDS = {
    "zero": "0", "oh": "0", "o": "0", "one": "1", "two": "2", "to": "2", "too": "2", "three": "3", "four": "4",
    "for": "4", "five": "5", "six": "6", "seven": "7", "eight": "8", "nine": "9",
}  # fmt: skip
_MULTIPLIERS = {"double": 2, "triple": 3}


def spoken_digits(text: str) -> str:
    """The digits a caller read out ("four zero double one 23" → "401123"); words that are not digits are skipped,
    and "to", "for" and "oh" count only next to other digits."""
    tokens = re.findall(r"[a-z]+|\d", text.lower())
    digits: list[str] = []
    repeat = 1
    for index, token in enumerate(tokens):
        if token in _MULTIPLIERS:
            repeat = _MULTIPLIERS[token]
            continue
        value = token if token.isdigit() else _DIGIT_WORDS.get(token)
        ambiguous = token in ("to", "too", "for", "o", "oh")
        if value is not None and ambiguous:
            neighbours = [tokens[i] for i in (index - 1, index + 1) if 0 <= i < len(tokens)]
            if not any(
                n.isdigit() or (n in _DIGIT_WORDS and n not in ("to", "too", "for", "o", "oh")) for n in neighbours
            ):
                value = None
        if value is not None:
            digits.append(value * repeat)
        repeat = 1
    return "".join(digits)
