"""The semantic cache's learned pair verifier, with the shipped weights (no evaluation data needed)."""

from __future__ import annotations

import uuid

import numpy as np
import pytest

from opsdesk.conversation.pair_verifier import FEATURES, SHIPPED, load_pair_verifier, pair_features, training_record
from opsdesk.conversation.semantic import Candidate, choose
from opsdesk.core.settings import Settings
from opsdesk.providers.embedding.local_minilm import LocalMiniLM

# Written for this test (not from QQP): one word turns the question into another one, and MiniLM barely notices.
HARD_NEGATIVES = [
    ("Are your cups suitable for hot drinks?", "Are your cups suitable for cold drinks?"),
    ("What is the minimum order quantity?", "What is the maximum order quantity?"),
    ("Why is my invoice wrong?", "Why is my invoice late?"),
]
PARAPHRASES = [
    ("What are your payment terms?", "Which payment terms do you offer?"),
    ("How long does delivery take?", "How many days does delivery take?"),
    ("Can I return damaged items?", "Is it possible to return items that arrived damaged?"),
    ("Do you deliver on weekends?", "Do you make deliveries on weekends?"),
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


@pytest.mark.parametrize(("cached", "asked"), PARAPHRASES)
def test_semantic_verifier_serves_a_paraphrase(cached: str, asked: str, embedder: LocalMiniLM) -> None:
    _, found = _shipped_choose(cached, asked, embedder)
    assert found is not None and found.question == cached


def test_semantic_verifier_refuses_a_candidate_without_vectors() -> None:
    verifier = load_pair_verifier(0.0)
    candidate = Candidate(uuid.uuid4(), "What are your payment terms?", {}, 0.95)
    assert choose("Which payment terms do you offer?", [candidate], 0.7, 0.025, verifier=verifier) is None


def test_semantic_verifier_features_are_symmetric() -> None:
    rng = np.random.default_rng(7)
    a, b = (row / np.linalg.norm(row) for row in rng.normal(size=(2, 384)).astype(np.float32))
    left = pair_features(a, "Do you sell Kraft bags?", b, "Do you sell plastic bags or not?")
    right = pair_features(b, "Do you sell plastic bags or not?", a, "Do you sell Kraft bags?")
    assert left.shape == (FEATURES,)
    assert np.allclose(left, right)


def test_semantic_verifier_ships_its_training_record() -> None:
    record = training_record()
    assert SHIPPED.stat().st_size < 100_000
    assert set(record["data_sha256"]) == {"qqp_labeled_dev.json", "mock_data.json"}
    assert record["pairs"]["train"] + record["pairs"]["test"] == 10_000
    assert record["threshold"] == Settings(_env_file=None).semantic_cache_verifier_threshold  # type: ignore[call-arg]
