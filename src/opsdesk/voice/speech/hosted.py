"""Hosted speech recognition behind the same interface: OpenAI's transcription API (or any server speaking it).

Only when configured: the bank decides whether callers' voices may leave its data centre. The call goes through the
official `openai` SDK with the providers' own guard: a timeout per attempt, the one retry policy (backoff, Retry-After),
a circuit breaker (five provider faults open it for 30 s; a refused request is the caller's fault and never counts),
errors translated to `UpstreamError` with a clear message.
"""

from __future__ import annotations

import numpy as np
import openai
import pybreaker
from openai import AsyncOpenAI, omit

from opsdesk.core.settings import ProviderSettings
from opsdesk.providers.llm.base import InvalidModelRequest, UpstreamError
from opsdesk.providers.llm.openai_compat import translate_error
from opsdesk.providers.resilience import RetryTiming, retry_policy, with_timeout
from opsdesk.voice.audio.wav import encode_wav

MODEL_RATE = 16000


class HostedWhisperRecognizer:
    """A `SpeechRecognizer` over `/v1/audio/transcriptions` (model e.g. `whisper-1` or `gpt-4o-mini-transcribe`)."""

    sample_rate = MODEL_RATE

    def __init__(
        self,
        cfg: ProviderSettings,
        *,
        language: str = "en",
        prompt: str | None = None,
        fail_max: int = 5,
        reset_timeout_s: float = 30.0,
        timing: RetryTiming = RetryTiming(),
    ) -> None:
        self._cfg = cfg
        self._language = language
        self.prompt = prompt
        self._timing = timing
        self._client = AsyncOpenAI(
            api_key=cfg.api_key.get_secret_value() if cfg.api_key is not None else "not-needed",
            base_url=cfg.base_url,
            timeout=cfg.timeout_s,
            max_retries=0,  # the retry policy below owns retries
        )
        self._breaker = pybreaker.CircuitBreaker(
            fail_max=fail_max,
            reset_timeout=reset_timeout_s,
            exclude=[lambda exc: isinstance(exc, InvalidModelRequest)],
            name=self.name,
            throw_new_error_on_trip=False,
        )

    @property
    def name(self) -> str:
        return f"openai-{self._cfg.model}"

    @property
    def breaker_state(self) -> str:
        return str(self._breaker.current_state)

    async def transcribe(self, pcm: bytes, *, partial: bool = False) -> str:
        """The text of 16 kHz PCM16 audio, sent as a WAV file."""
        audio = encode_wav(np.frombuffer(pcm, dtype="<i2"), MODEL_RATE)
        text = ""
        async for attempt in retry_policy(0 if partial else self._cfg.max_retries, self._timing):
            with attempt:
                text = await self._once(audio)
        return text

    async def _once(self, audio: bytes) -> str:
        try:
            with self._breaker.calling():
                try:
                    result = await with_timeout(
                        self._client.audio.transcriptions.create(
                            model=self._cfg.model,
                            file=("utterance.wav", audio, "audio/wav"),
                            language=self._language,
                            prompt=self.prompt or omit,
                        ),
                        self._cfg.timeout_s,
                        self.name,
                    )
                except openai.OpenAIError as exc:
                    raise translate_error(self.name, exc) from exc
        except pybreaker.CircuitBreakerError as exc:
            raise UpstreamError(f"{self.name} is failing: its circuit breaker is open", retryable=False) from exc
        return str(result.text).strip()

    async def aclose(self) -> None:
        await self._client.close()
