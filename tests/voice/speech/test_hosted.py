"""The hosted recogniser speaks OpenAI's transcription API through the official SDK, retried and guarded."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import numpy as np
import pytest
from pydantic import SecretStr
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from opsdesk.core.settings import ProviderSettings
from opsdesk.providers.llm.base import InvalidModelRequest, UpstreamError
from opsdesk.providers.resilience import RetryTiming
from opsdesk.voice.audio import decode_wav
from opsdesk.voice.pipeline.interfaces import SpeechRecognizer
from opsdesk.voice.speech.hosted import HostedWhisperRecognizer
from tests.fakes.scripted import Behaviour, Recorded, ScriptedServer

SPEECH = (3000 * np.sin(np.arange(16000) / 5)).astype("<i2").tobytes()  # one second at 16 kHz


class FakeTranscriptions(ScriptedServer):
    """`POST /v1/audio/transcriptions` as OpenAI documents it: a multipart form with the file and the model."""

    default_endpoint = "transcriptions"

    def routes(self) -> list[Route]:
        return [Route("/v1/audio/transcriptions", self._transcribe, methods=["POST"])]

    async def _transcribe(self, request: Request) -> Response:
        form = await request.form()
        upload = form["file"]
        audio = await upload.read() if not isinstance(upload, str) else b""
        fields = {key: str(value) for key, value in form.items() if key != "file"}
        wav = decode_wav(audio)
        with self._lock:
            self.requests.append(Recorded("transcriptions", dict(request.headers), {**fields, "rate": wav.rate}))
            queue = self._scripts["transcriptions"]
            behaviour = queue.popleft() if queue else Behaviour()
        if behaviour.delay_s:
            await asyncio.sleep(behaviour.delay_s)
        if behaviour.status != 200:
            headers = {"retry-after": behaviour.retry_after} if behaviour.retry_after else {}
            error = {"error": {"message": "scripted failure", "type": "server_error", "code": None}}
            return JSONResponse(error, status_code=behaviour.status, headers=headers)
        return JSONResponse({"text": f" {behaviour.text or self.reply} "})


class _Quick(RetryTiming):
    base_wait_s = 0.01
    max_wait_s = 0.02


@pytest.fixture
def server() -> Iterator[FakeTranscriptions]:
    with FakeTranscriptions(reply="My card has not arrived.") as fake:
        yield fake


def _recognizer(server: FakeTranscriptions, **options: float) -> HostedWhisperRecognizer:
    cfg = ProviderSettings(
        kind="openai",
        model="whisper-1",
        base_url=server.url,
        api_key=SecretStr("sk-test"),
        timeout_s=options.pop("timeout_s", 5.0),
        max_retries=int(options.pop("max_retries", 2)),
    )
    return HostedWhisperRecognizer(cfg, prompt="Caller to a bank.", timing=_Quick(), **options)  # type: ignore[arg-type]


async def test_audio_goes_as_a_16_khz_wav_and_the_text_comes_back(server: FakeTranscriptions) -> None:
    asr = _recognizer(server)
    assert isinstance(asr, SpeechRecognizer)
    assert await asr.transcribe(SPEECH) == "My card has not arrived."
    sent = server.last()
    assert sent.body == {"model": "whisper-1", "language": "en", "prompt": "Caller to a bank.", "rate": 16000}
    assert sent.headers["authorization"] == "Bearer sk-test"
    await asr.aclose()


async def test_a_server_error_is_retried(server: FakeTranscriptions) -> None:
    server.script(["500", "429:0", "text:I lost my card."])
    asr = _recognizer(server)
    assert await asr.transcribe(SPEECH) == "I lost my card."
    assert server.count() == 3
    await asr.aclose()


async def test_a_refused_request_is_not_retried_and_does_not_count_against_the_service(
    server: FakeTranscriptions,
) -> None:
    server.script(["400"] * 6)
    asr = _recognizer(server, fail_max=2)
    for _ in range(3):
        with pytest.raises(InvalidModelRequest):
            await asr.transcribe(SPEECH)
    assert server.count() == 3
    assert asr.breaker_state == "closed"
    await asr.aclose()


async def test_repeated_faults_open_the_breaker_and_later_calls_fail_fast(server: FakeTranscriptions) -> None:
    server.script(["503"] * 3)
    asr = _recognizer(server, fail_max=3, max_retries=0)
    for _ in range(3):
        with pytest.raises(UpstreamError, match="503"):
            await asr.transcribe(SPEECH)
    with pytest.raises(UpstreamError, match="circuit breaker is open"):
        await asr.transcribe(SPEECH)
    assert server.count() == 3  # the fourth never reached the server
    await asr.aclose()


async def test_a_slow_service_times_out(server: FakeTranscriptions) -> None:
    server.script(["delay:2", "delay:2"])
    asr = _recognizer(server, timeout_s=0.2, max_retries=1)
    with pytest.raises(UpstreamError, match="timed out"):
        await asr.transcribe(SPEECH)
    await asr.aclose()
