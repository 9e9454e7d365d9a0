"""The banking intent classifier reads callers' words it was not trained on, and is trained once, then cached."""

from __future__ import annotations

import csv
import random
from collections.abc import AsyncIterator
from pathlib import Path

import numpy as np
import pytest

from opsdesk.conversation.intents import LabeledExample
from opsdesk.providers.embedding.local_minilm import LocalMiniLM
from opsdesk.voice.banking.intents import (
    TRAINING_FILE,
    BankingIntentClassifier,
    TermWeights,
    banking_classifier,
    cached_path,
    load_examples,
    terms,
)
from opsdesk.voice.banking.train_intents import MAX_TOKENS, intent_embedder

PER_INTENT = 12  # a slice of the shipped file keeps the test fast; the benchmark trains on all of it

# Written for this test, none of them in the training file.
HELD_OUT = [
    ("it's been two weeks and my new card still hasn't shown up", "card_arrival"),
    ("I think someone stole my card yesterday", "lost_or_stolen_card"),
    ("the machine kept my card", "card_swallowed"),
    ("why did you charge me a fee for taking out cash", "cash_withdrawal_charge"),
    ("I typed the wrong pin too many times and now it's blocked", "pin_blocked"),
    ("how do I close my account", "terminate_account"),
]


async def _vectors(embedder: LocalMiniLM, texts: list[str]) -> np.ndarray:
    return np.asarray(await embedder.embed(texts), dtype=np.float32)


@pytest.fixture(scope="module")
async def embedder() -> AsyncIterator[LocalMiniLM]:
    model = intent_embedder()  # what the desk's classifier is trained with: the fused int8 file, one thread
    yield model
    await model.aclose()


@pytest.fixture(scope="module")
def few_examples() -> list[LabeledExample]:
    by_intent: dict[str, list[LabeledExample]] = {}
    for example in load_examples():
        by_intent.setdefault(example.intent, []).append(example)
    draw = random.Random(0)
    return [example for intent in sorted(by_intent) for example in draw.sample(by_intent[intent], PER_INTENT)]


@pytest.fixture(scope="module")
async def classifier(embedder: LocalMiniLM, few_examples: list[LabeledExample]) -> BankingIntentClassifier:
    vectors = await _vectors(embedder, [example.text for example in few_examples])
    return BankingIntentClassifier.train(few_examples, vectors)


def test_the_shipped_training_file_holds_banking77s_77_intents() -> None:
    examples = load_examples(TRAINING_FILE)
    assert len(examples) == 10003
    assert len({example.intent for example in examples}) == 77
    assert {text.lower() for text, _ in HELD_OUT}.isdisjoint(example.text.lower() for example in examples)


def test_terms_are_words_and_word_pairs() -> None:
    assert terms("My card hasn't arrived!") == ["my", "card", "hasn't", "arrived", "my card", "card hasn't",
                                                "hasn't arrived"]  # fmt: skip
    weights = TermWeights.fit(["my card", "my pin"])
    row = weights.transform(["my card card"]).toarray()[0]
    assert np.isclose(np.linalg.norm(row), 1.0)
    assert row[weights.index["card"]] > row[weights.index["my"]]  # rarer words weigh more


@pytest.mark.parametrize(("text", "intent"), HELD_OUT)
async def test_held_out_utterances_get_their_intent(
    classifier: BankingIntentClassifier, embedder: LocalMiniLM, text: str, intent: str
) -> None:
    vector = (await _vectors(embedder, [text]))[0]
    found = classifier.classify(vector, text)
    assert found.intent == intent, (found, text)
    assert 0.0 < found.confidence <= 1.0
    assert len(found.alternatives) == 2 and all(p <= found.confidence for _, p in found.alternatives)


async def test_trained_once_then_read_from_the_cache(
    embedder: LocalMiniLM, few_examples: list[LabeledExample], tmp_path: Path
) -> None:
    training = tmp_path / "train.csv"
    with training.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["text", "category"])
        writer.writerows([example.text, example.intent] for example in few_examples[::4])  # 3 per intent
    calls: list[int] = []

    async def embed(texts: list[str]) -> list[list[float]]:
        calls.append(len(texts))
        return await embedder.embed(texts)

    first = await banking_classifier(embed, embedder="minilm", training_file=training, directory=tmp_path / "cache")
    path = cached_path(training, "minilm", tmp_path / "cache")
    assert path.is_file() and calls == [len(few_examples) // 4]
    again = BankingIntentClassifier.load(path)
    assert again.labels == first.labels
    text = HELD_OUT[0][0]
    vector = (await _vectors(embedder, [text]))[0]
    assert again.classify(vector, text).intent == first.classify(vector, text).intent
    assert again.classify(vector, text).confidence == pytest.approx(first.classify(vector, text).confidence, abs=1e-4)
    # Another embedder, or another training file, is another classifier.
    assert cached_path(training, "openai", tmp_path / "cache") != path


async def test_one_utterance_is_classified_as_in_a_batch(
    classifier: BankingIntentClassifier, embedder: LocalMiniLM
) -> None:
    texts = [text for text, _ in HELD_OUT] + ["zzz qqq", ""]  # the last two: no known word
    vectors = await _vectors(embedder, texts)
    batch = classifier.probabilities(vectors, texts)

    for row, (vector, text) in enumerate(zip(vectors, texts, strict=True)):
        found = classifier.classify(vector, text)
        best = int(batch[row].argmax())
        assert found.intent == classifier.labels[best]
        assert found.confidence == pytest.approx(float(batch[row, best]), abs=1e-9)
        second = int(np.argsort(batch[row])[-2])
        assert found.alternatives[0] == (classifier.labels[second], pytest.approx(float(batch[row, second]), abs=1e-9))


def test_the_desk_embeds_utterances_with_the_fused_model_on_one_thread(embedder: LocalMiniLM) -> None:
    vector = embedder.embed_array(["where is my new card"])

    assert embedder._threads == 1
    assert embedder._model_path is not None and embedder._model_path.name.startswith("minilm-fused-int8-")
    assert vector.shape == (1, 384) and np.isclose(float(np.linalg.norm(vector)), 1.0, atol=1e-5)


def test_a_rambling_turn_is_read_up_to_the_token_limit(embedder: LocalMiniLM) -> None:
    fitting = MAX_TOKENS - 2  # [CLS] and [SEP] take two

    rambling, cut = embedder.embed_array(["card " * 300, "card " * fitting])

    assert np.allclose(rambling, cut, atol=1e-6)
