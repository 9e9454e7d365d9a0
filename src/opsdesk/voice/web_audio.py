"""A call to the voice desk over a WebSocket: the console's "call the desk" button (browser microphone), through the
same pipeline and banking dialogue as a SIP call.

`/api/v1/workspaces/{workspace}/voice/ws`, authenticated like the API — `Authorization: Bearer <token or API key>`
or `X-API-Key` — or, from a browser (which cannot set headers on a WebSocket), by the console's session cookie on a
same-origin request; the caller needs the read permission in that workspace.

- Client → server: binary messages of audio, any length — 16-bit little-endian mono PCM at 8 kHz (`?rate=16000` for
  16 kHz) or G.711 μ-law at 8 kHz (`?codec=ulaw`), taken at real time (audio more than 5 s ahead of the call's
  clock is dropped: `InputPacer`); text messages `{"dtmf": "1234#"}` press keys, `{"hangup": true}`
  ends the call.
- Server → client: binary 20 ms frames of the bot's audio in the same codec at 8 kHz, paced in real time (a
  barge-in drops what is queued, so the browser's buffer stays short); text events `{"event": "started", "call_id"}`
  and, at the end, `{"event": "hangup"|"transfer", "reason"}` (sent once the call is on record) before the socket
  closes. A transfer puts the summary in the operator inbox, as on the phone; there is no line to hand over, so the
  call then ends.
- At most `OPSDESK_VOICE_WEB_CALLS_PER_WORKSPACE` calls of a workspace at once in a process (they share its
  recogniser); one more is answered `{"event": "hangup", "reason": "the desk is busy…"}` and closed with 1013.

The call record is the SIP call's (table `voice_calls`) with the channel in its id: `web-<uuid>`, caller
`web:<user or key id>`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, cast

import numpy as np
from fastapi import APIRouter, WebSocket, WebSocketDisconnect
from starlette.requests import Request

from opsdesk.auth.deps import presented_credential
from opsdesk.auth.roles import Permission, route_access
from opsdesk.auth.security import API_KEY_PREFIX, decode_token
from opsdesk.auth.service import Principal, principal_for_api_key, principal_for_user
from opsdesk.core.errors import NotAuthenticated, OpsdeskError
from opsdesk.core.logging import get_logger
from opsdesk.voice.audio import ulaw_decode, ulaw_encode
from opsdesk.voice.engines import SHARED_ENGINES_KEY
from opsdesk.voice.gateway import CallRecord, GatewayConfig, SpeechEngines, call_pipeline
from opsdesk.voice.pipeline.frames import CallStarted, Dtmf, Frame, InputAudio, TranscriptFinal
from opsdesk.voice.pipeline.processors import CallState

if TYPE_CHECKING:
    from opsdesk.app.context import AppContext
    from opsdesk.voice.desk import BankingDesk

log = get_logger(__name__)
PATH = "/api/v1/workspaces/{workspace}/voice/ws"
router = APIRouter(tags=["voice"])
FRAME_SECONDS = 0.02
_RATE = 8000
_KEYS = frozenset("0123456789*#ABCDabcd")
_MAX_MESSAGE = 64_000  # bytes of audio per message (2 s at 16 kHz): a browser sends 20-100 ms at a time
_MAX_CALL_SECONDS = 1800.0
# Audio may run this far ahead of the call's clock (a network's jitter, a browser's buffer); what a client sends faster
# than real time beyond it is dropped, as a phone line would never carry it.
_BURST_SECONDS = 5.0
_EXTRAS_KEY = "voice.web"


class SocketAudio:
    """The bot's audio out over the socket: queued 8 kHz PCM16 sent in 20 ms frames on a steady schedule (an
    `AudioSink` with `hold`, as the RTP session)."""

    def __init__(self, send: Callable[[bytes], Awaitable[None]], codec: str) -> None:
        self._send = send
        self._codec = codec
        self._outbound = bytearray()
        self._held = False
        self._idle: list[Callable[[], None]] = []
        self.frames_sent = 0

    def enqueue(self, pcm: bytes) -> None:
        self._outbound += pcm

    def flush(self) -> float:
        dropped = len(self._outbound) / (2 * _RATE)
        self._outbound.clear()
        return dropped

    def hold(self, on: bool) -> None:
        self._held = on

    @property
    def queued_seconds(self) -> float:
        return len(self._outbound) / (2 * _RATE)

    def when_idle(self, callback: Callable[[], None]) -> None:
        if not self._outbound:
            callback()
        else:
            self._idle.append(callback)

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        start, slot = loop.time(), 0
        frame_bytes = 2 * round(_RATE * FRAME_SECONDS)
        while True:
            slot += 1
            delay = start + slot * FRAME_SECONDS - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            elif delay < -3 * FRAME_SECONDS:  # stalled: start the schedule again rather than send a burst
                start, slot = loop.time(), 0
            if self._held or not self._outbound:
                if not self._outbound and self._idle and not self._held:
                    callbacks, self._idle = self._idle, []
                    for callback in callbacks:
                        callback()
                continue
            chunk = bytes(self._outbound[:frame_bytes])
            del self._outbound[:frame_bytes]
            if self._codec == "ulaw":
                chunk = ulaw_encode(np.frombuffer(chunk, dtype="<i2")).tobytes()
            await self._send(chunk)
            self.frames_sent += 1


class InputPacer:
    """A caller's audio at most at real time: `burst_s` seconds of it at once, then as much as the clock allows.

    A WebSocket client can send an hour of audio in a second; unpaced, every frame of it is queued for the shared
    recogniser (memory without bound, the other callers' decodes delayed) by anyone with read access. A phone line
    cannot do that, so neither can a socket: what arrives ahead of the clock by more than `burst_s` is dropped.
    """

    def __init__(
        self, bytes_per_second: int, *, burst_s: float = _BURST_SECONDS, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._rate = bytes_per_second
        self._burst = burst_s
        self._clock = clock
        self._credit = burst_s  # seconds of audio that may arrive now
        self._last = clock()
        self.dropped_s = 0.0

    def admit(self, data: bytes, sample_bytes: int) -> bytes:
        """What of `data` the call takes now: all of it while within the allowance, else whole samples up to it."""
        now = self._clock()
        self._credit = min(self._burst, self._credit + max(0.0, now - self._last))
        self._last = now
        wanted = len(data) / self._rate
        if wanted <= self._credit:
            self._credit -= wanted
            return data
        allowed = int(self._credit * self._rate) // sample_bytes * sample_bytes
        self._credit -= allowed / self._rate
        self.dropped_s += (len(data) - allowed) / self._rate
        return data[:allowed]


@dataclass
class WebVoice:
    """What the process's WebSocket calls share: the speech engines (one recogniser service for every call) and one
    banking desk per workspace. Parked in the app context's extras; closed with it."""

    engines: SpeechEngines
    desks: dict[uuid.UUID, BankingDesk] = field(default_factory=dict)
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    active: dict[uuid.UUID, int] = field(default_factory=dict)  # calls in progress per workspace, in this process

    @contextlib.contextmanager
    def call_slot(self, workspace_id: uuid.UUID, limit: int) -> Iterator[bool]:
        """True (and the slot held until the block ends) while the workspace has fewer than `limit` calls here."""
        if self.active.get(workspace_id, 0) >= limit:
            yield False
            return
        self.active[workspace_id] = self.active.get(workspace_id, 0) + 1
        try:
            yield True
        finally:
            self.active[workspace_id] -= 1

    async def desk(self, ctx: AppContext, workspace_id: uuid.UUID) -> BankingDesk:
        async with self.lock:
            found = self.desks.get(workspace_id)
            if found is None:
                from opsdesk.voice.desk import open_banking_desk

                found = self.desks[workspace_id] = await open_banking_desk(ctx=ctx, workspace_id=workspace_id)
                found.load_classifier_later()
            return found

    async def aclose(self) -> None:
        for desk in self.desks.values():
            await desk.aclose()
        self.desks.clear()


async def web_voice(ctx: AppContext) -> WebVoice:
    found = ctx.extras.get(_EXTRAS_KEY)
    if isinstance(found, WebVoice):
        return found
    shared = ctx.extras.get(SHARED_ENGINES_KEY)
    if isinstance(shared, SpeechEngines):  # `opsdesk up --voice-port`: one recogniser service for SIP and web calls
        engines = shared
    else:
        from opsdesk.voice.cli import _engines

        engines = await asyncio.to_thread(_engines, "silero", ctx.settings.voice_asr, "espeak-ng")
    found = ctx.extras.get(_EXTRAS_KEY)  # another socket may have loaded them meanwhile
    if not isinstance(found, WebVoice):
        found = ctx.extras[_EXTRAS_KEY] = WebVoice(engines)
    return found


async def _principal(websocket: WebSocket, ctx: AppContext) -> Principal:
    """The caller, by bearer token, API key or (same-origin browser) console session."""
    credential = presented_credential(websocket.headers)
    async with ctx.db.session() as session:
        if credential is not None:
            if credential.startswith(API_KEY_PREFIX):
                return await principal_for_api_key(session, credential)
            claims = decode_token(ctx.settings.jwt_secret(), credential)
            return await principal_for_user(session, claims.user_id, claims.workspace_id)
        from opsdesk.auth import console_session as console_sessions

        origin = websocket.headers.get("origin")
        host = websocket.headers.get("host", "")
        if origin is not None and origin.split("://", 1)[-1] != host:
            raise NotAuthenticated("Cross-site WebSocket refused.", code="cross_site_request")
        found = console_sessions.read(cast(Request, websocket), ctx.settings)  # reads only the cookies
        if found is None or found.user_id is None or found.workspace_id is None:
            raise NotAuthenticated("Credentials are required: a bearer token, an API key or a console session.")
        if await console_sessions.has_ended(ctx.limiter, found.sid):
            raise NotAuthenticated("The console session has ended.", code="session_ended")
        return await principal_for_user(session, found.user_id, found.workspace_id)


@router.websocket(PATH)
async def voice_socket(websocket: WebSocket, workspace: str, rate: int = _RATE, codec: str = "pcm16") -> None:
    """A call to the desk from a browser or any WebSocket client (see the module's docstring)."""
    ctx: AppContext = websocket.app.state.ctx
    try:
        principal = await _principal(websocket, ctx)
        principal.require_workspace(workspace)
        access = route_access("GET", PATH)
        principal.require(access if isinstance(access, Permission) else Permission.read)
        if rate not in (8000, 16000) or codec not in ("pcm16", "ulaw") or (codec == "ulaw" and rate != _RATE):
            raise ValueError("rate is 8000 or 16000, codec pcm16 or ulaw (8 kHz)")
    except (OpsdeskError, ValueError) as exc:
        log.info("voice.web_call_refused", reason=str(exc))
        await websocket.close(code=1008)  # before accept: the handshake gets 403
        return
    voice = await web_voice(ctx)
    limit = ctx.settings.voice_web_calls_per_workspace
    with voice.call_slot(principal.workspace_id, limit) as admitted:
        if not admitted:  # like a busy line: said on the socket, so the console can tell the caller why
            log.info("voice.web_call_busy", workspace_id=str(principal.workspace_id), limit=limit)
            await websocket.accept()
            reason = f"the desk is busy: {limit} calls from this workspace are in progress, try again shortly"
            await websocket.send_text(json.dumps({"event": "hangup", "reason": reason}))
            await websocket.close(code=1013)  # "try again later"
            return
        desk = await voice.desk(ctx, principal.workspace_id)
        await websocket.accept()
        await WebCall(websocket, voice.engines, desk, principal, rate=rate, codec=codec).run()


class WebCall:
    """One WebSocket call: the socket's audio into the pipeline, the pipeline's audio back, a record at the end."""

    def __init__(
        self,
        websocket: WebSocket,
        engines: SpeechEngines,
        desk: BankingDesk,
        principal: Principal,
        *,
        rate: int,
        codec: str,
    ) -> None:
        self.websocket = websocket
        self.rate, self.codec = rate, codec
        self.desk = desk
        self.call_id = f"web-{uuid.uuid4()}"
        self.record = CallRecord(self.call_id, f"web:{principal.subject_id}", time.time())
        self.state = CallState()
        self.audio = SocketAudio(websocket.send_bytes, codec)
        self.dialogue = desk.dialogue(self.state, GatewayConfig())
        self.ended = asyncio.Event()
        self.end: tuple[str, str] = ("hangup", "caller hung up")
        self.pipeline = call_pipeline(
            engines,
            self.dialogue,
            self.state,
            self.audio,
            on_hangup=lambda reason: self._finish("hangup", reason),
            on_transfer=lambda reason: self._finish("transfer", reason),
            sink=self._observe,
        )
        self._pending = bytearray()
        self._sample_bytes = 1 if codec == "ulaw" else 2
        self.pacer = InputPacer(rate * self._sample_bytes)

    def _finish(self, event: str, reason: str) -> None:
        if not self.ended.is_set():
            self.end = (event, reason)
            self.ended.set()

    def _observe(self, frame: Frame) -> None:
        if isinstance(frame, TranscriptFinal) and len(self.record.transcripts) < 500:
            from opsdesk.core.masking import mask_digits

            self.record.transcripts.append(mask_digits(frame.text))

    async def run(self) -> None:
        self.pipeline.start()
        sender = asyncio.get_running_loop().create_task(self.audio.run())
        receiver = asyncio.get_running_loop().create_task(self._receive())
        self.pipeline.put(CallStarted(call_id=self.call_id, caller=self.record.caller))
        with contextlib.suppress(Exception):
            await self.websocket.send_text(json.dumps({"event": "started", "call_id": self.call_id}))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.ended.wait(), _MAX_CALL_SECONDS)
        if not self.ended.is_set():
            self.end = ("hangup", "too long")
        receiver.cancel()
        sender.cancel()
        await asyncio.gather(receiver, sender, return_exceptions=True)
        await self.pipeline.stop(self.end[1])
        event, reason = self.end
        await self._keep_record(reason)  # first: a client told the call ended finds it on record
        with contextlib.suppress(Exception):  # the client may be gone already
            await self.websocket.send_text(json.dumps({"event": event, "reason": reason}))
            await self.websocket.close()

    async def _receive(self) -> None:
        try:
            while True:
                message = await self.websocket.receive()
                if message.get("type") == "websocket.disconnect":
                    break
                if message.get("bytes"):
                    self._audio(message["bytes"][:_MAX_MESSAGE])
                elif message.get("text"):
                    self._command(message["text"])
        except (WebSocketDisconnect, RuntimeError):
            pass
        self._finish("hangup", "caller hung up")

    def _audio(self, data: bytes) -> None:
        ahead = self.pacer.dropped_s
        data = self.pacer.admit(data, self._sample_bytes)
        if self.pacer.dropped_s > ahead and not ahead:
            log.info("voice.web_audio_ahead_of_real_time", call_id=self.call_id, burst_s=_BURST_SECONDS)
        if self.codec == "ulaw":
            data = ulaw_decode(data).astype("<i2").tobytes()
        self._pending += data
        frame_bytes = 2 * round(self.rate * FRAME_SECONDS)
        while len(self._pending) >= frame_bytes:
            pcm = bytes(self._pending[:frame_bytes])
            del self._pending[:frame_bytes]
            self.pipeline.put(InputAudio(pcm=pcm, sample_rate=self.rate))

    def _command(self, text: str) -> None:
        try:
            command = json.loads(text)
        except ValueError:
            return
        if not isinstance(command, dict):
            return
        if command.get("hangup"):
            self._finish("hangup", "caller hung up")
        keys = command.get("dtmf")
        if isinstance(keys, str):
            for key in keys[:32]:
                if key in _KEYS:
                    self.record.keys_pressed += 1
                    self.pipeline.put(Dtmf(digit=key.upper()))

    async def _keep_record(self, reason: str) -> None:
        self.record.ended, self.record.outcome = time.time(), reason
        self.record.timings = list(self.pipeline.timings)
        self.record.packets_out = self.audio.frames_sent
        try:
            await self.desk.record(self.record, self.dialogue)
        except Exception:
            log.exception("voice.web_call_record_failed", call_id=self.call_id)
