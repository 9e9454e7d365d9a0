"""The int8-product MiniLM: built once from the shipped model, close to it, reused, and never required."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from opsdesk.providers.embedding import local_minilm
from opsdesk.providers.embedding.int8_model import int8_model
from opsdesk.providers.embedding.local_minilm import LocalMiniLM, shipped_model_path

SENTENCES = [
    "What are your payment terms?",
    "Vitamin D supplementation reduces the risk of fractures in older adults.",
    'Please send 6 bundles of 10" regular pizza boxes to Tampines tomorrow morning.',
    "The kinase phosphorylates its substrate only in the presence of calcium ions.",
]


def test_the_derivative_embeds_like_the_shipped_model(tmp_path: Path) -> None:
    built = int8_model(shipped_model_path(), tmp_path)

    ours = LocalMiniLM(model_path=built).embed_array(SENTENCES)
    shipped = LocalMiniLM(model_path=shipped_model_path()).embed_array(SENTENCES)

    assert built.parent == tmp_path and built.name.startswith("minilm-int8-")
    assert float((ours * shipped).sum(axis=1).min()) > 0.98
    # Neighbours stay neighbours: each sentence is closest to its own shipped embedding.
    assert ((ours @ shipped.T).argmax(axis=1) == np.arange(len(SENTENCES))).all()
    assert [path.name for path in tmp_path.iterdir()] == [built.name]  # no temporary files left behind


def test_it_is_built_once_and_reused(tmp_path: Path) -> None:
    first = int8_model(shipped_model_path(), tmp_path)
    built_at = first.stat().st_mtime_ns

    again = int8_model(shipped_model_path(), tmp_path)

    assert again == first and again.stat().st_mtime_ns == built_at


def test_without_a_usable_cache_ingestion_and_intents_run_the_shipped_model(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("a file where the cache directory would go")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocker))

    assert local_minilm.bulk_model_path() == shipped_model_path()
    assert local_minilm.fused_model_path() == shipped_model_path()  # the voice desk's intents
    assert LocalMiniLM().embed_array(["still works"]).shape == (1, 384)
