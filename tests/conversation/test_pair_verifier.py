"""The semantic cache's learned pair verifier, with the shipped weights (no evaluation data needed)."""

from __future__ import annotations

import uuid

import numpy as np
import pytest

from opsdesk.conversation.pair_verifier import (
    FEATURES,
    SHIPPED,
    WordVectors,
    alignment_features,
    load_pair_verifier,
    pair_features,
    training_record,
)
from opsdesk.conversation.semantic import Candidate, choose
from opsdesk.core.settings import Settings
from opsdesk.providers.embedding.local_minilm import LocalMiniLM

# Written for this test (not from QQP): one word turns the question into another one, and MiniLM barely notices.
HARD_NEGATIVES = [
    ("Are your cups suitable for hot drinks?", "Are your cups suitable for cold drinks?"),
    ("What is the minimum order quantity?", "What is the maximum order quantity?"),
    ("Why is my invoice wrong?", "Why is my invoice late?"),
    ("Who is better, Messi or Ronaldo?", "Who is better, Messi or Neymar?"),
]
# One-word opposites MiniLM puts above 0.88 that the verifier still serves (docs/semantic-cache.md, "Known misses"):
# on QQP's training half, pairs that differ in exactly one word are duplicates about half the time, so nothing
# learned from it refuses them. Strict: when one starts being refused, this list and the docs must change.
KNOWN_MISSES = [
    ("Is delivery free for large orders?", "Is delivery free for small orders?"),
    ("What is the best way to store the trays?", "What is the worst way to store the trays?"),
    ("Do you sell round containers?", "Do you sell square containers?"),
]
PARAPHRASES = [
    ("What are your payment terms?", "Which payment terms do you offer?"),
    ("How long does delivery take?", "How many days does delivery take?"),
    ("Can I return damaged items?", "Is it possible to return items that arrived damaged?"),
    ("Do you deliver on weekends?", "Do you make deliveries on weekends?"),
    ("Is delivery free for large orders?", "Do large orders ship for free?"),
    ("How do I reset my password?", "How can I reset my password?"),
]


@pytest.fixture(scope="module")
def embedder() -> LocalMiniLM:
    return LocalMiniLM()


def _shipped_choose(cached: str, asked: str, embedder: LocalMiniLM) -> tuple[float, Candidate | None]:
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    cached_vector, asked_vector = embedder.embed_array([cached, asked])
    similarity = float(cached_vector @ asked_vector)
    candidate = Candidate(uuid.uuid4(), cached, {"text": cached}, similarity, cached_vector)
    found = choose(
        asked,
        [candidate],
        settings.semantic_cache_threshold,
        settings.semantic_cache_margin,
        verifier=load_pair_verifier(settings.semantic_cache_verifier_threshold),
        vector=asked_vector,
    )
    return similarity, found


@pytest.mark.parametrize(("cached", "asked"), HARD_NEGATIVES)
def test_semantic_verifier_refuses_a_question_that_cosine_would_serve(
    cached: str, asked: str, embedder: LocalMiniLM
) -> None:
    similarity, found = _shipped_choose(cached, asked, embedder)
    assert similarity >= Settings(_env_file=None).semantic_cache_threshold  # type: ignore[call-arg]
    assert found is None


@pytest.mark.xfail(strict=True, reason="known miss: a one-word opposite the verifier still serves")
@pytest.mark.parametrize(("cached", "asked"), KNOWN_MISSES)
def test_semantic_verifier_refuses_a_one_word_opposite(cached: str, asked: str, embedder: LocalMiniLM) -> None:
    _, found = _shipped_choose(cached, asked, embedder)
    assert found is None


def test_semantic_verifier_alignment_finds_the_one_word_that_matches_nothing(embedder: LocalMiniLM) -> None:
    def words(text: str) -> WordVectors:
        _, found, vectors = embedder.embed_with_tokens(text)
        return WordVectors(tuple(found), vectors)

    swapped = alignment_features(
        words("Is delivery free for large orders?"), words("Is delivery free for small orders?")
    )
    same = alignment_features(words("Is delivery free for large orders?"), words("Is delivery free for big orders?"))
    assert swapped[2] < 0.75 < same[2]  # the worst-matched content word: "large" against "small", against "big"


def test_semantic_verifier_word_vectors_come_from_the_embedding_run(embedder: LocalMiniLM) -> None:
    vector, words, vectors = embedder.embed_with_tokens("Who's better, Messi or Ronaldo?")
    assert words == ["who", "'", "s", "better", ",", "messi", "or", "ronaldo", "?"]
    assert vectors.shape == (len(words), 384)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert float(vector @ embedder.embed_array(["Who's better, Messi or Ronaldo?"])[0]) > 0.9999


@pytest.mark.parametrize(("cached", "asked"), PARAPHRASES)
def test_semantic_verifier_serves_a_paraphrase(cached: str, asked: str, embedder: LocalMiniLM) -> None:
    _, found = _shipped_choose(cached, asked, embedder)
    assert found is not None and found.question == cached


def test_semantic_verifier_refuses_a_candidate_without_vectors() -> None:
    verifier = load_pair_verifier(0.0)
    candidate = Candidate(uuid.uuid4(), "What are your payment terms?", {}, 0.95)
    assert choose("Which payment terms do you offer?", [candidate], 0.7, 0.025, verifier=verifier) is None


def test_semantic_verifier_features_are_symmetric(embedder: LocalMiniLM) -> None:
    one, two = "Do you sell Kraft bags?", "Do you sell plastic bags or not?"
    (a, a_words, a_vectors), (b, b_words, b_vectors) = (embedder.embed_with_tokens(text) for text in (one, two))
    a_side, b_side = WordVectors(tuple(a_words), a_vectors), WordVectors(tuple(b_words), b_vectors)
    left = pair_features(a, one, a_side, b, two, b_side)
    right = pair_features(b, two, b_side, a, one, a_side)
    assert left.shape == (FEATURES,)
    assert np.allclose(left, right)


def test_semantic_verifier_ships_its_training_record() -> None:
    record = training_record()
    assert SHIPPED.stat().st_size < 100_000
    assert set(record["data_sha256"]) == {"qqp_labeled_dev.json", "mock_data.json"}
    assert record["pairs"]["train"] + record["pairs"]["test"] == 10_000
    assert record["threshold"] == Settings(_env_file=None).semantic_cache_verifier_threshold  # type: ignore[call-arg]
