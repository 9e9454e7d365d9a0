"""Second-stage reranking behind one small interface: an LLM reranker (any chat provider) or a cross-encoder.

No PyPI package ships cross-encoder weights (e.g. ms-marco MiniLM) for offline use, and nothing may be downloaded
from a model hub, so the cross-encoder runs only where one is configured: an ONNX export and its `tokenizer.json`
placed in `<data_dir>/models/cross-encoder/` (`model.onnx`, `tokenizer.json`).
"""

from __future__ import annotations

import asyncio
import json
import re
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

from opsdesk.core.errors import ConfigurationError
from opsdesk.core.logging import get_logger
from opsdesk.core.settings import Settings
from opsdesk.knowledge.query.retrieval import Hit
from opsdesk.providers.llm.base import ChatMessage, ChatProvider, ChatRequest

_log = get_logger(__name__)
DEFAULT_DEPTH = 20
_PASSAGE_CHARS = 1200


@runtime_checkable
class Reranker(Protocol):
    """Scores (query, passage) pairs; higher is more relevant. Scores are comparable within one call only."""

    name: str

    async def score(self, query: str, passages: Sequence[str]) -> list[float]: ...


async def rerank(reranker: Reranker, query: str, hits: list[Hit], *, depth: int = DEFAULT_DEPTH) -> list[Hit]:
    """Reorders the first `depth` hits by the reranker's scores; the rest keep their order after them."""
    head, tail = hits[:depth], hits[depth:]
    if len(head) < 2:
        return hits
    scores = await reranker.score(query, [_passage(hit) for hit in head])
    for hit, score in zip(head, scores, strict=True):
        hit.rerank_score = score
    # Stable on ties, so the first-stage order decides between equal scores.
    order = sorted(range(len(head)), key=lambda i: -scores[i])
    return [head[i] for i in order] + tail


def _passage(hit: Hit) -> str:
    title = hit.document_title if hit.document_title not in hit.text[:200] else ""
    return (f"{title}\n{hit.text}" if title else hit.text)[:_PASSAGE_CHARS]


_LLM_SYSTEM = (
    "You judge search results. Given a question and one passage, rate how well the passage answers the question: "
    '0 = unrelated, 1 = same topic, 2 = partly answers, 3 = answers it. Reply with JSON only: {"score": N}.'
)
_SCORE_SCHEMA = {
    "type": "object",
    "properties": {"score": {"type": "integer", "minimum": 0, "maximum": 3}},
    "required": ["score"],
}
_DIGIT = re.compile(r"[0-3]")


class LLMReranker:
    """Pointwise relevance grades (0-3) from any chat provider, a few calls at a time."""

    name = "llm"

    def __init__(self, provider: ChatProvider, model: str | None = None, *, concurrency: int = 4) -> None:
        self.provider = provider
        self.model = model
        self._limit = asyncio.Semaphore(concurrency)

    async def score(self, query: str, passages: Sequence[str]) -> list[float]:
        grades = await asyncio.gather(*(self._grade(query, passage) for passage in passages))
        # The first-stage order breaks ties: a tiny bonus for earlier passages.
        return [grade + (len(passages) - i) * 1e-3 for i, grade in enumerate(grades)]

    async def _grade(self, query: str, passage: str) -> float:
        request = ChatRequest(
            messages=[
                ChatMessage(role="system", content=_LLM_SYSTEM),
                ChatMessage(role="user", content=f"Question: {query}\n\nPassage: {passage}\n\nJSON:"),
            ],
            model=self.model,
            temperature=0.0,
            max_tokens=12,
            response_schema=_SCORE_SCHEMA,
        )
        async with self._limit:
            try:
                result = await self.provider.complete(request)
            except Exception as exc:  # a failed grade must not fail the search: it keeps the first-stage order
                _log.warning("llm_rerank_failed", error=str(exc))
                return 0.0
        return parse_grade(result.content)


def parse_grade(content: str) -> float:
    """The grade in a reply such as '{"score": 2}' or '2'; 0 when there is none."""
    try:
        value = json.loads(content)
        if isinstance(value, dict) and isinstance(value.get("score"), int | float):
            return float(max(0, min(3, value["score"])))
    except ValueError:
        pass
    match = _DIGIT.search(content)
    return float(match.group(0)) if match else 0.0


class CrossEncoderReranker:
    """A BERT-style cross-encoder exported to ONNX (e.g. ms-marco-MiniLM-L-6-v2), on onnxruntime."""

    name = "cross-encoder"

    def __init__(self, model_path: Path, tokenizer_path: Path, *, threads: int = 2, max_tokens: int = 512) -> None:
        self.model_path = model_path
        self.tokenizer_path = tokenizer_path
        self._threads = threads
        self._max_tokens = max_tokens
        self._session: Any = None
        self._tokenizer: Any = None
        self._inputs: set[str] = set()
        self._lock = threading.Lock()

    @classmethod
    def from_dir(cls, directory: Path) -> CrossEncoderReranker:
        model, tokenizer = directory / "model.onnx", directory / "tokenizer.json"
        if not model.is_file() or not tokenizer.is_file():
            raise ConfigurationError(
                f"OPSDESK_RERANKER=cross-encoder needs {model} and {tokenizer} (an ONNX cross-encoder and its "
                "tokenizer); no package ships one, so place an export there or use OPSDESK_RERANKER=llm."
            )
        return cls(model, tokenizer)

    async def score(self, query: str, passages: Sequence[str]) -> list[float]:
        return await asyncio.to_thread(self.score_sync, query, list(passages))

    def score_sync(self, query: str, passages: list[str]) -> list[float]:
        if not passages:
            return []
        self._load()
        encodings = self._tokenizer.encode_batch([(query, passage) for passage in passages])
        ids = np.asarray([e.ids for e in encodings], dtype=np.int64)
        feeds = {
            "input_ids": ids,
            "attention_mask": np.asarray([e.attention_mask for e in encodings], dtype=np.int64),
            "token_type_ids": np.asarray([e.type_ids for e in encodings], dtype=np.int64),
        }
        (logits,) = self._session.run(None, {k: v for k, v in feeds.items() if k in self._inputs})[:1]
        logits = np.asarray(logits, dtype=np.float32)
        if logits.ndim == 2 and logits.shape[1] > 1:  # two-class heads: the "relevant" logit
            logits = logits[:, -1]
        return [float(value) for value in logits.reshape(-1)]

    def _load(self) -> None:
        with self._lock:
            if self._session is not None:
                return
            import onnxruntime as ort
            from tokenizers import Tokenizer

            tokenizer = Tokenizer.from_file(str(self.tokenizer_path))
            tokenizer.enable_truncation(max_length=self._max_tokens)
            tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")
            options = ort.SessionOptions()
            options.intra_op_num_threads = self._threads
            session = ort.InferenceSession(str(self.model_path), options, providers=["CPUExecutionProvider"])
            self._inputs = {item.name for item in session.get_inputs()}
            self._tokenizer = tokenizer
            self._session = session


def cross_encoder_dir(settings: Settings) -> Path:
    return settings.data_dir / "models" / "cross-encoder"


def build_reranker(settings: Settings, providers: Any, kind: str | None = None) -> Reranker | None:
    """The configured reranker (`OPSDESK_RERANKER`), or the one named by `kind`; None for "none"."""
    kind = kind or settings.reranker
    if kind == "none":
        return None
    if kind == "cross-encoder":
        return CrossEncoderReranker.from_dir(cross_encoder_dir(settings))
    if kind == "llm":
        provider, override = providers.resolve_model("opsdesk")
        return LLMReranker(provider, override)
    raise ConfigurationError(f"Unknown reranker {kind!r}: use none, llm or cross-encoder.")


def reranker_of(extras: dict[str, Any], settings: Settings, providers: Any) -> Reranker | None:
    """The process's configured reranker, built once and kept in `AppContext.extras`."""
    if "reranker" not in extras:
        extras["reranker"] = build_reranker(settings, providers)
    reranker: Reranker | None = extras["reranker"]
    return reranker
