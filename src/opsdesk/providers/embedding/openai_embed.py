"""Embeddings from the OpenAI API (or any server speaking its /v1/embeddings shape)."""

from __future__ import annotations

import time

import numpy as np
import openai
from openai import AsyncOpenAI

from opsdesk.core import telemetry
from opsdesk.providers.accounting import CallRecord, CallRecorder
from opsdesk.providers.llm.base import UpstreamError
from opsdesk.providers.llm.openai_compat import translate_error
from opsdesk.providers.resilience import RetryTiming, retry_policy, with_timeout

_BATCH = 256


class OpenAIEmbeddings:
    """Unit vectors of ``dim`` dimensions; each batch has a timeout and the shared retry policy."""

    def __init__(
        self,
        *,
        model: str = "text-embedding-3-small",
        dim: int = 1536,
        api_key: str | None = None,
        base_url: str | None = None,
        timeout_s: float = 30.0,
        max_retries: int = 2,
        recorder: CallRecorder | None = None,
        name: str = "openai",
        timing: RetryTiming = RetryTiming(),
    ) -> None:
        self.name = name
        self.model = model
        self.dim = dim
        self._timeout_s = timeout_s
        self._max_retries = max_retries
        self._recorder = recorder
        self._timing = timing
        # Only the text-embedding-3 family can shorten its vectors to the dimension the database holds.
        self._send_dimensions = model.startswith("text-embedding-3")
        self._client = AsyncOpenAI(api_key=api_key or "not-needed", base_url=base_url, timeout=timeout_s, max_retries=0)

    async def embed(self, texts: list[str]) -> list[list[float]]:
        """One vector per text, in order."""
        vectors: list[list[float]] = []
        with telemetry.span("provider.embed", **{"gen_ai.system": "openai", "opsdesk.texts": len(texts)}):
            for start in range(0, len(texts), _BATCH):
                batch = texts[start : start + _BATCH]
                async for attempt in retry_policy(self._max_retries, self._timing):
                    with attempt:
                        part = await self._embed_once(batch)
                vectors.extend(part)
        return vectors

    async def aclose(self) -> None:
        """Closes the HTTP connection pool."""
        await self._client.close()

    async def _embed_once(self, batch: list[str]) -> list[list[float]]:
        started = time.perf_counter()
        outcome, error, tokens = "ok", None, 0
        try:
            dimensions = self.dim if self._send_dimensions else openai.omit
            try:
                response = await with_timeout(
                    self._client.embeddings.create(model=self.model, input=batch, dimensions=dimensions),
                    self._timeout_s,
                    self.name,
                )
            except openai.OpenAIError as exc:
                raise translate_error(self.name, exc) from exc
            tokens = response.usage.prompt_tokens if response.usage else 0
            rows = sorted(response.data, key=lambda item: item.index)
            matrix = np.asarray([row.embedding for row in rows], dtype=np.float32)
            if matrix.shape != (len(batch), self.dim):
                raise UpstreamError(
                    f"{self.name} returned embeddings of shape {matrix.shape}, expected {(len(batch), self.dim)}",
                    retryable=False,
                )
            norms = np.linalg.norm(matrix, axis=1, keepdims=True)
            matrix = matrix / np.maximum(norms, 1e-12)
            return [row.tolist() for row in matrix]
        except UpstreamError as exc:
            outcome, error = exc.outcome, str(exc)
            raise
        finally:
            if self._recorder is not None:
                self._recorder.record(
                    CallRecord(
                        provider=self.name,
                        model=self.model,
                        operation="embed",
                        outcome=outcome,
                        latency_ms=(time.perf_counter() - started) * 1000,
                        tokens_in=tokens,
                        error=error,
                    )
                )
