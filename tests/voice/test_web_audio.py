"""A call to the desk over the WebSocket audio endpoint, served by uvicorn with the real app: espeak-ng speech in as
16-bit PCM, the bot's audio back, heard by our own recogniser; the call on record as a web call. Refusals without
credentials or from another workspace."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
from collections.abc import AsyncIterator

import httpx
import numpy as np
import pytest
import uvicorn
import websockets
from websockets.exceptions import InvalidStatus

from opsdesk.app.context import AppContext
from opsdesk.app.factory import create_app
from opsdesk.auth.roles import Role
from opsdesk.voice.audio import decode_wav, resample
from opsdesk.voice.speech.asr import BANKING_PROMPT, WhisperRecognizer
from opsdesk.voice.web_audio import web_voice
from tests.conftest import Tenant, make_tenant

pytestmark = pytest.mark.slow  # a real call: greeting, speech, the desk's answer (about 25 s)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
async def server(ctx: AppContext) -> AsyncIterator[str]:
    port = _free_port()
    config = uvicorn.Config(
        create_app(ctx.settings, context=ctx), host="127.0.0.1", port=port, log_config=None, lifespan="off"
    )
    app_server = uvicorn.Server(config)
    serving = asyncio.create_task(app_server.serve())
    while not app_server.started and not serving.done():  # noqa: ASYNC110 (uvicorn offers only a flag)
        await asyncio.sleep(0.02)
    yield f"127.0.0.1:{port}"
    app_server.should_exit = True
    await asyncio.wait_for(serving, 30)


async def _espeak(text: str) -> bytes:
    process = await asyncio.create_subprocess_exec(
        "espeak-ng", "--stdout", text, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL
    )
    wav, _ = await asyncio.wait_for(process.communicate(), 30)
    audio = decode_wav(wav)
    return bytes(resample(audio.samples, audio.rate, 8000).astype("<i2").tobytes())


async def _audio_until_quiet(
    socket_: websockets.ClientConnection, quiet: float, limit: float
) -> tuple[bytes, list[dict[str, str]]]:
    """The bot's audio until it has sent nothing for `quiet` seconds (or `limit`), and any text events."""
    heard, events = bytearray(), list[dict[str, str]]()
    loop = asyncio.get_running_loop()
    deadline = loop.time() + limit
    while loop.time() < deadline:
        try:
            message = await asyncio.wait_for(socket_.recv(), quiet)
        except TimeoutError:
            if heard:
                break
            continue
        except websockets.ConnectionClosed:
            break
        if isinstance(message, bytes):
            heard += message
        else:
            events.append(json.loads(message))
            if events[-1].get("event") in ("hangup", "transfer"):
                break
    return bytes(heard), events


async def test_a_web_call_hears_the_desk_asks_for_a_person_and_is_on_record(
    server: str, ctx: AppContext, tenant: Tenant
) -> None:
    url = f"ws://{server}/api/v1/workspaces/{tenant.slug}/voice/ws"
    async with websockets.connect(url, additional_headers=tenant.headers(Role.viewer), open_timeout=60) as call:
        started = json.loads(await asyncio.wait_for(call.recv(), 60))
        assert started["event"] == "started" and started["call_id"].startswith("web-")
        greeting, _ = await _audio_until_quiet(call, quiet=1.0, limit=60)
        assert len(greeting) > 2 * 8000  # more than a second of the desk's voice
        speech = await _espeak("I want to speak to an agent.") + bytes(2 * 8000)
        for offset in range(0, len(speech), 640):  # 40 ms messages, at twice real time
            await call.send(speech[offset : offset + 640])
            await asyncio.sleep(0.02)
        answer, events = await _audio_until_quiet(call, quiet=3.0, limit=60)
    assert events and events[-1] == {"event": "transfer", "reason": events[-1]["reason"]}
    recognizer = WhisperRecognizer("whisper-tiny.en", prompt=BANKING_PROMPT)
    pcm16k = resample(np.frombuffer(answer, dtype="<i2"), 8000, 16000).astype("<i2").tobytes()
    heard = (await recognizer.transcribe(pcm16k)).lower()
    assert "colleague" in heard or "transfer" in heard, heard

    async with httpx.AsyncClient(base_url=f"http://{server}", timeout=30) as http:
        for _ in range(100):  # the record is written as the call ends
            listed = (await http.get(f"/api/v1/workspaces/{tenant.slug}/voice/calls", headers=tenant.headers())).json()
            if listed["items"]:
                break
            await asyncio.sleep(0.1)
    record = listed["items"][0]
    assert record["call_id"] == started["call_id"]
    assert record["caller"].startswith("web:")
    assert record["transfers"] == 1


async def test_a_socket_without_credentials_or_for_another_workspace_is_refused(
    server: str, ctx: AppContext, tenant: Tenant
) -> None:
    other = await make_tenant(ctx, "globex")
    url = f"ws://{server}/api/v1/workspaces/{tenant.slug}/voice/ws"
    with pytest.raises(InvalidStatus) as refused:
        async with websockets.connect(url, open_timeout=30):
            pass
    assert refused.value.response.status_code == 403
    with pytest.raises(InvalidStatus) as refused:
        async with websockets.connect(url, additional_headers=other.headers(Role.admin), open_timeout=30):
            pass
    assert refused.value.response.status_code == 403


async def test_a_call_over_the_workspaces_limit_hears_the_desk_is_busy_and_one_after_is_taken(
    server: str, ctx: AppContext, tenant: Tenant
) -> None:
    voice = await web_voice(ctx)
    workspace_id = tenant.workspace_id
    limit = ctx.settings.voice_web_calls_per_workspace
    url = f"ws://{server}/api/v1/workspaces/{tenant.slug}/voice/ws"
    with contextlib.ExitStack() as held:
        assert all(held.enter_context(voice.call_slot(workspace_id, limit)) for _ in range(limit))
        async with websockets.connect(url, additional_headers=tenant.headers(Role.viewer), open_timeout=60) as call:
            busy = json.loads(await asyncio.wait_for(call.recv(), 60))
            with pytest.raises(websockets.ConnectionClosed) as closed:
                await asyncio.wait_for(call.recv(), 30)
        assert busy["event"] == "hangup" and "busy" in busy["reason"]
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1013
    assert voice.active[workspace_id] == 0
    async with websockets.connect(url, additional_headers=tenant.headers(Role.viewer), open_timeout=60) as call:
        started = json.loads(await asyncio.wait_for(call.recv(), 60))
        assert started["event"] == "started"
        assert voice.active[workspace_id] == 1
        await call.send(json.dumps({"hangup": True}))
        _, events = await _audio_until_quiet(call, quiet=3.0, limit=60)
    assert events and events[-1]["event"] == "hangup"
