"""The flow's intents: keyword rules for the short answers, the Banking77 classifier mapped onto the desk's services
(and everything else it serves not, to a person), keyword rules when the classifier is unsure."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator

import numpy as np
import pytest

from opsdesk.conversation.intents import LabeledExample
from opsdesk.providers.embedding.local_minilm import LocalMiniLM, bulk_model_path
from opsdesk.voice.banking.dialogue.intents import BANKING77_TO_FLOW, FlowIntent, IntentReader, short_answer
from opsdesk.voice.banking.intents import BankingIntentClassifier, load_examples

PER_INTENT = 12  # a slice of the shipped file keeps the test fast; the desk trains on all of it


def test_every_mapped_intent_is_a_banking77_intent() -> None:
    labels = {example.intent for example in load_examples()}
    assert len(labels) == 77 and set(BANKING77_TO_FLOW) <= labels


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("yes please", FlowIntent.YES),
        ("Yeah, go ahead.", FlowIntent.YES),
        ("no", FlowIntent.NO),
        ("no thanks, that's all", FlowIntent.GOODBYE),
        ("can I speak to an agent", FlowIntent.AGENT),
        ("sorry, could you repeat that", FlowIntent.REPEAT),
        ("where is my new card", None),
    ],
)
def test_short_answers_by_keyword(text: str, intent: FlowIntent | None) -> None:
    assert short_answer(text) == intent


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("what's my balance", FlowIntent.BALANCE),
        ("I'd like to know how much money I have", FlowIntent.BALANCE),
        ("read me my last transactions", FlowIntent.TRANSACTIONS),
        ("what did I spend recently", FlowIntent.TRANSACTIONS),
        ("I need to block my card", FlowIntent.BLOCK_CARD),
        ("someone took my wallet with my cards in it", FlowIntent.BLOCK_CARD),
        ("there's a charge on my statement I never made", FlowIntent.DISPUTE),
        ("where is my new card", FlowIntent.CARD_DELIVERY),
        ("mumble", FlowIntent.UNCLEAR),
    ],
)
async def test_without_a_classifier_service_words_still_route(text: str, intent: FlowIntent) -> None:
    assert (await IntentReader().read(text)).intent is intent


@pytest.fixture(scope="module")
async def reader() -> AsyncIterator[IntentReader]:
    embedder = LocalMiniLM(threads=1, model_path=bulk_model_path())
    by_intent: dict[str, list[LabeledExample]] = {}
    for example in load_examples():
        by_intent.setdefault(example.intent, []).append(example)
    draw = random.Random(0)
    few = [example for intent in sorted(by_intent) for example in draw.sample(by_intent[intent], PER_INTENT)]
    vectors = np.asarray(await embedder.embed([example.text for example in few]), dtype=np.float32)
    yield IntentReader(BankingIntentClassifier.train(few, vectors), embedder.embed)
    await embedder.aclose()


async def test_the_classifier_maps_banking77_onto_the_desk(reader: IntentReader) -> None:
    dispute = await reader.read("there's a charge on my statement I never made")
    assert dispute.intent is FlowIntent.DISPUTE and dispute.source == "banking77"
    # Banking77 has no balance intent: its nearest ones must not send a balance question to a person.
    assert (await reader.read("I'd like to know how much money I have")).intent is FlowIntent.BALANCE
    closing = await reader.read("how do I close my account")
    assert closing.intent is FlowIntent.OTHER and closing.banking77 == "terminate_account"
    assert (await reader.read("can I speak to somebody")).source == "keyword"
