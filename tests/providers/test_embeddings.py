"""Embeddings: the local MiniLM on onnxruntime and the OpenAI-shaped client against the fake."""

from __future__ import annotations

import asyncio
import itertools
import os
import threading
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

from opsdesk.core.settings import Settings
from opsdesk.providers.embedding import local_minilm
from opsdesk.providers.embedding.local_minilm import BackgroundMiniLM, LocalMiniLM
from opsdesk.providers.embedding.openai_embed import OpenAIEmbeddings
from opsdesk.providers.factory import ProviderRegistry
from opsdesk.providers.llm.base import EmbeddingProvider, UpstreamError
from tests.fakes.openai_server import FakeOpenAI
from tests.providers.support import FAST


@pytest.fixture(scope="module")
def minilm() -> LocalMiniLM:
    return LocalMiniLM()


async def test_local_vectors_have_384_dimensions_and_unit_length(minilm: LocalMiniLM) -> None:
    vectors = np.asarray(await minilm.embed(["The order ships on Monday.", "Hello"]))

    assert isinstance(minilm, EmbeddingProvider)
    assert vectors.shape == (2, 384)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


async def test_similar_sentences_score_higher_than_unrelated_ones(minilm: LocalMiniLM) -> None:
    cat, kitten, stocks = np.asarray(
        await minilm.embed(["A cat sits on the mat.", "A kitten is sitting on a rug.", "Stock markets fell sharply."])
    )

    assert cat @ kitten > 0.5
    assert cat @ kitten > cat @ stocks + 0.3


def test_batches_and_long_texts_give_the_same_vectors_as_single_calls(minilm: LocalMiniLM) -> None:
    texts = [f"sentence number {i} about invoices" for i in range(70)] + ["word " * 1000]
    together = np.asarray(minilm.embed_sync(texts))
    alone = np.asarray([minilm.embed_sync([text])[0] for text in (texts[0], texts[69], texts[70])])

    assert together.shape == (71, 384)
    assert np.allclose(together[[0, 69, 70]], alone, atol=1e-4)  # padding does not leak into the mean
    assert minilm.embed_sync([]) == []


async def test_openai_embeddings_are_unit_vectors_of_the_asked_dimension(openai_server: FakeOpenAI) -> None:
    embedder = OpenAIEmbeddings(model="text-embedding-3-small", dim=384, api_key="sk-test", base_url=openai_server.url)

    vectors = np.asarray(await embedder.embed(["alpha", "beta", "alpha"]))

    assert vectors.shape == (3, 384)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert np.allclose(vectors[0], vectors[2])
    assert openai_server.last("embeddings").body["dimensions"] == 384
    await embedder.aclose()


async def test_openai_embeddings_retry_server_errors(openai_server: FakeOpenAI) -> None:
    embedder = OpenAIEmbeddings(
        model="text-embedding-3-small", dim=8, api_key="sk-test", base_url=openai_server.url, timing=FAST
    )
    openai_server.script(["500", "ok"], endpoint="embeddings")

    assert len(await embedder.embed(["x"])) == 1
    assert openai_server.count("embeddings") == 2

    openai_server.script(["400"], endpoint="embeddings")
    with pytest.raises(UpstreamError):
        await embedder.embed(["x"])
    await embedder.aclose()


async def test_openai_embeddings_reject_a_wrong_dimension(openai_server: FakeOpenAI) -> None:
    embedder = OpenAIEmbeddings(model="other-embedder", dim=384, api_key="sk-test", base_url=openai_server.url)

    with pytest.raises(UpstreamError, match="shape"):
        await embedder.embed(["x"])

    assert "dimensions" not in openai_server.last("embeddings").body
    await embedder.aclose()


async def test_the_ingestion_embedder_gives_the_same_vectors_from_lower_priority_threads(minilm: LocalMiniLM) -> None:
    low = BackgroundMiniLM(nice=7, sub_batch=2)
    texts = ["Deliveries leave the warehouse at 6 am.", "Refunds take five working days.", "Hi", "Net 30", "Cartons"]
    try:
        bulk = LocalMiniLM(model_path=local_minilm.bulk_model_path())  # the int8-product model ingestion runs
        vectors = np.asarray(await low.embed(texts))
        assert np.allclose(vectors, await bulk.embed(texts), atol=1e-5)
        assert float((vectors * np.asarray(await minilm.embed(texts))).sum(axis=1).min()) > 0.98
        niced = [tid for tid in os.listdir("/proc/self/task") if os.getpriority(os.PRIO_PROCESS, int(tid)) == 7]
        assert niced, "the embedding ran on threads at nice 7"
    finally:
        await low.aclose()


async def test_the_ingestion_embedder_leaves_a_core_while_queries_run(
    minilm: LocalMiniLM, monkeypatch: pytest.MonkeyPatch
) -> None:
    low = BackgroundMiniLM(nice=7, width=2, sub_batch=2, quiet_s=30)
    lock, counts = threading.Lock(), {"active": 0, "peak": 0}

    def fake_run(texts: list[str]) -> np.ndarray[Any, np.dtype[np.float32]]:
        with lock:
            counts["active"] += 1
            counts["peak"] = max(counts["peak"], counts["active"])
        time.sleep(0.2)  # long enough that two runs overlap even on a busy machine
        with lock:
            counts["active"] -= 1
        return np.zeros((len(texts), 384), dtype=np.float32)

    monkeypatch.setattr(low, "_embed_texts", fake_run)
    monkeypatch.setattr(local_minilm._ACTIVITY, "last", float("-inf"))
    try:
        await low.embed(["a text"] * 8)
        assert counts["peak"] == 2, "idle: both threads work"
        counts["peak"] = 0
        await minilm.embed(["a query"])  # someone is waiting on an interactive embedding
        await asyncio.gather(low.embed(["a text"] * 8), low.embed(["another"] * 8))  # two ingestion jobs
        assert counts["peak"] == 1, "busy: one sub-batch at a time, across callers"
    finally:
        await low.aclose()


def test_the_registry_gives_ingestion_its_own_low_priority_embedder(tmp_path: Path) -> None:
    registry = ProviderRegistry(Settings(data_dir=tmp_path, worker_nice=10), {})
    assert registry.ingest_embedder() is not registry.embedder()
    assert registry.ingest_embedder() is registry.ingest_embedder()
    unchanged = ProviderRegistry(Settings(data_dir=tmp_path, worker_nice=0), {})
    assert unchanged.ingest_embedder() is unchanged.embedder()


class _Clock:
    """The embedder's clock, moved only by what the embedder does: a sub-batch takes `batch_s`, a pause what it asks."""

    def __init__(self, batch_s: float) -> None:
        self.now = 1000.0
        self.batch_s = batch_s
        self.pauses: list[float] = []

    def monotonic(self) -> float:
        return self.now

    async def sleep(self, delay: float) -> None:
        self.pauses.append(delay)
        self.now += delay
        await asyncio.sleep(0)


class _Recording(BackgroundMiniLM):
    """The ingestion embedder on a `_Clock`, noting when each sub-batch ran."""

    def __init__(self, clock: _Clock, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.clock = clock
        self.spans: list[tuple[float, float]] = []

    def _embed_texts(self, texts: list[str]) -> np.ndarray[Any, np.dtype[np.float32]]:
        started = self.clock.now
        vectors = super()._embed_texts(texts)
        self.clock.now += self.clock.batch_s
        self.spans.append((started, self.clock.now))
        return vectors


async def test_while_serving_the_ingestion_embedder_keeps_to_its_share_of_a_core(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The pauses are the ones the embedder decides (from `_resume_at`), on a clock that only it moves, so a busy
    # machine cannot change what is checked.
    clock = _Clock(batch_s=0.2)
    monkeypatch.setattr(local_minilm, "time", clock)
    monkeypatch.setattr(local_minilm, "asyncio", SimpleNamespace(**{**vars(asyncio), "sleep": clock.sleep}))
    monkeypatch.setattr(local_minilm._ACTIVITY, "last", clock.now)  # a query was just served
    low = _Recording(clock, nice=3, sub_batch=1, quiet_s=30, share=0.25)
    texts = ["Refunds take five working days after the goods are back.", "Cartons", "Net 30 from the invoice date"]
    try:
        vectors = await low.embed(texts)
    finally:
        await low.aclose()
    assert len(vectors) == 3
    spans = sorted(low.spans)
    assert len(spans) == 3
    for (start, end), (next_start, _) in itertools.pairwise(spans):
        # With a quarter of a core, each sub-batch is followed by a pause of three times its own length.
        assert next_start - end == pytest.approx(3 * (end - start))
    assert sum(low.clock.pauses) == pytest.approx(2 * 3 * 0.2), "the embedder waited out each pause it decided"
