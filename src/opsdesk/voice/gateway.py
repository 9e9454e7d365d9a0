"""The voice gateway: SIP calls in, one RTP session and one frame pipeline per call, a record of every call.

The SIP user agent does the signalling; this module is its `CallHandler`: it answers offers with our RTP port,
starts the media and the pipeline when the caller's ACK comes, follows holds (re-INVITE), and tears everything down
when the call ends, whichever side ends it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from opsdesk.core.masking import mask_digits
from opsdesk.voice import metrics
from opsdesk.voice.audio import write_wav
from opsdesk.voice.pipeline.frames import CallStarted, Dtmf, Frame, InputAudio, TranscriptFinal
from opsdesk.voice.pipeline.interfaces import SpeechRecognizer, SpeechSynthesizer, VoiceActivityDetector
from opsdesk.voice.pipeline.processor import FrameProcessor, Pipeline, StageTiming
from opsdesk.voice.pipeline.processors import (
    AsrProcessor,
    AudioSink,
    CallState,
    EchoDialogue,
    EnergyDetector,
    MediaOutput,
    TtsProcessor,
    VadProcessor,
)
from opsdesk.voice.rtp.session import PortPool, RtpSession
from opsdesk.voice.sip.config import UserAgentConfig
from opsdesk.voice.sip.dialog import ENDED, SipCall
from opsdesk.voice.sip.sdp import AudioOffer, MediaAnswer, agree, answer_body, codec_of, new_session_id
from opsdesk.voice.sip.useragent import SipUserAgent

log = logging.getLogger(__name__)
_JITTER_SAMPLE_FRAMES = 50  # observe the jitter estimate once a second per call


@dataclass(slots=True)
class SpeechEngines:
    """The engines calls use; without a recogniser the dialogue echoes audio, without a synthesiser it plays audio."""

    vad: Callable[[], VoiceActivityDetector] = EnergyDetector
    asr: SpeechRecognizer | None = None
    tts: SpeechSynthesizer | None = None


@dataclass(slots=True)
class GatewayConfig:
    sip: UserAgentConfig = field(default_factory=UserAgentConfig)
    rtp_ports: tuple[int, int] = (40000, 41000)
    latch_rtp: bool = False  # send to wherever the caller's RTP comes from (callers behind NAT)
    greeting: str = "Hello, this is the opsdesk voice desk."
    prompt: bytes = b""  # 8 kHz PCM16 played when a call starts
    operator_uri: str = ""  # where a Transfer frame sends the call (REFER); empty: no transfers
    recordings_dir: Path | None = None  # when set, each call's caller audio is kept as a WAV file
    max_recording_seconds: float = 600.0
    max_call_seconds: float = 3600.0


@dataclass(slots=True)
class CallRecord:
    """What is kept of a call: no digits in clear, only how many were pressed."""

    call_id: str
    caller: str
    started: float
    ended: float = 0.0
    outcome: str = ""
    keys_pressed: int = 0
    transcripts: list[str] = field(default_factory=list)
    transferred: bool = False
    timings: list[StageTiming] = field(default_factory=list)
    packets_in: int = 0
    packets_out: int = 0
    late_packets: int = 0
    foreign_packets: int = 0
    recording: Path | None = None


@dataclass(slots=True)
class ActiveCall:
    sip: SipCall
    media: RtpSession
    state: CallState
    record: CallRecord
    pipeline: Pipeline | None = None
    dialogue: FrameProcessor | None = None
    recording: bytearray = field(default_factory=bytearray)
    frames_in: int = 0
    limit: asyncio.TimerHandle | None = None


DialogueFactory = Callable[[CallState, "GatewayConfig"], FrameProcessor]
# Called once per call after it ended, with its record and its dialogue stage (e.g. to store the record).
RecordHook = Callable[[CallRecord, FrameProcessor | None], Awaitable[None]]


def call_pipeline(
    engines: SpeechEngines,
    dialogue: FrameProcessor,
    state: CallState,
    media: AudioSink,
    *,
    on_hangup: Callable[[str], None],
    on_transfer: Callable[[str], None],
    sink: Callable[[Frame], None],
) -> Pipeline:
    """One call's chain, whatever carries its audio (RTP here, a WebSocket in `voice.web_audio`): VAD → ASR →
    dialogue → TTS → the media's output. The VAD pauses `media` while it checks speech over the bot."""
    vad = VadProcessor(engines.vad(), state, audio=media, recognizer=engines.asr)
    stages: list[FrameProcessor] = [vad]
    if engines.asr is not None:
        stages.append(AsrProcessor(engines.asr, state))
    if isinstance(dialogue, EchoDialogue):
        dialogue.echo_audio = engines.asr is None
    stages.append(dialogue)
    output = MediaOutput(media, state, on_hangup=on_hangup, on_transfer=on_transfer)
    if engines.tts is not None:  # a reply's next sentence is made when the call's queued audio runs low
        stages.append(TtsProcessor(engines.tts, backlog=lambda: output.queued_seconds))
    stages.append(output)
    return Pipeline(stages, sink=sink)


def echo_dialogue(state: CallState, config: GatewayConfig) -> FrameProcessor:
    return EchoDialogue(state, greeting=config.greeting, prompt=config.prompt)


class VoiceGateway:
    def __init__(
        self,
        config: GatewayConfig | None = None,
        engines: SpeechEngines | None = None,
        dialogue: DialogueFactory = echo_dialogue,
        on_record: RecordHook | None = None,
    ) -> None:
        self.config = config or GatewayConfig()
        self.engines = engines or SpeechEngines()
        self.ua = SipUserAgent(self, self.config.sip)
        self.calls: dict[str, ActiveCall] = {}
        self.records: deque[CallRecord] = deque(maxlen=1000)
        self._dialogue = dialogue
        self._on_record = on_record
        self._ports = PortPool(*self.config.rtp_ports)
        self._media_host = self.config.sip.host
        self._session = new_session_id()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._recorded = asyncio.Event()

    @property
    def port(self) -> int:
        return self.ua.port

    async def start(self) -> None:
        await self.ua.start()

    async def stop(self) -> None:
        """Hangs up every call (BYE), then stops listening."""
        await self.ua.stop()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def wait_for_records(self, count: int, timeout: float = 10.0) -> list[CallRecord]:
        """The records once `count` calls have ended and been recorded (a call's teardown runs after its BYE)."""

        async def enough() -> None:
            while len(self.records) < count:
                self._recorded.clear()
                await self._recorded.wait()

        await asyncio.wait_for(enough(), timeout)
        return list(self.records)

    # --- CallHandler -------------------------------------------------------------------------------------------

    async def offer(self, call: SipCall, sdp: bytes) -> bytes | None:
        agreed = agree(sdp)
        if agreed is None:
            return None
        offer, answer = agreed
        state = CallState()
        record = CallRecord(call.call_id, call.caller, time.time())
        media = RtpSession(
            remote=(offer.address, offer.port),
            codec=codec_of(answer, offer),
            dtmf_payload_type=answer.dtmf_payload_type,
            on_audio=lambda pcm: self._audio(call.call_id, pcm),
            on_dtmf=lambda digit: self._dtmf(call.call_id, digit),
            latch=self.config.latch_rtp,
        )
        media.sending = answer.we_send
        port = await media.open(self._media_host, self._ports)
        if call.state == ENDED:  # cancelled while the port was being opened
            await media.close()
            return None
        self.calls[call.call_id] = ActiveCall(call, media, state, record)
        metrics.ACTIVE_CALLS.inc()
        return self._answer_body(offer, answer, port)

    async def confirmed(self, call: SipCall) -> None:
        active = self.calls.get(call.call_id)
        if active is None:
            return
        active.pipeline = self._pipeline(active)
        active.pipeline.start()
        active.media.start()
        active.pipeline.put(CallStarted(call_id=call.call_id, caller=call.caller))
        loop = asyncio.get_running_loop()
        active.limit = loop.call_later(self.config.max_call_seconds, self._hangup_later, call.call_id, "too long")

    async def reoffer(self, call: SipCall, sdp: bytes) -> bytes | None:
        active = self.calls.get(call.call_id)
        agreed = agree(sdp)
        if active is None or agreed is None:
            return None
        offer, answer = agreed
        active.media.update(
            remote=(offer.address, offer.port),
            codec=codec_of(answer, offer),
            dtmf_payload_type=answer.dtmf_payload_type,
            sending=answer.we_send,
        )
        return self._answer_body(offer, answer, active.media.port)

    async def ended(self, call: SipCall, reason: str) -> None:
        active = self.calls.pop(call.call_id, None)
        if active is None:
            return
        metrics.ACTIVE_CALLS.dec()
        metrics.CALLS.labels(reason).inc()
        if active.limit is not None:
            active.limit.cancel()
        if active.pipeline is not None:
            await active.pipeline.stop(reason)
        await active.media.close()
        record = active.record
        record.ended, record.outcome = time.time(), reason
        record.packets_in, record.packets_out = active.media.received, active.media.sent
        record.late_packets, record.foreign_packets = active.media.late, active.media.foreign
        if active.pipeline is not None:
            record.timings = list(active.pipeline.timings)
        metrics.RTP_JITTER.observe(active.media.jitter)
        if self.config.recordings_dir is not None and active.recording:
            record.recording = await asyncio.to_thread(self._save_recording, call.call_id, bytes(active.recording))
        if self._on_record is not None:
            try:
                await self._on_record(record, active.dialogue)
            except Exception:  # a record that cannot be stored must not stop the gateway's teardown
                log.exception("storing the record of call %s failed", call.call_id)
        self.records.append(record)
        self._recorded.set()

    def _answer_body(self, offer: AudioOffer, answer: MediaAnswer, port: int) -> bytes:
        host = self.config.sip.contact_host
        return answer_body(answer, offer, local_address=host, local_port=port, session=self._session)

    def key_pressed(self, call: SipCall, digit: str) -> None:
        self._dtmf(call.call_id, digit)

    # --- media and pipeline ------------------------------------------------------------------------------------

    def _pipeline(self, active: ActiveCall) -> Pipeline:
        call_id = active.sip.call_id
        active.dialogue = self._dialogue(active.state, self.config)
        return call_pipeline(
            self.engines,
            active.dialogue,
            active.state,
            active.media,
            on_hangup=lambda reason: self._hangup_later(call_id, reason),
            on_transfer=lambda reason: self._transfer_later(call_id, reason),
            sink=lambda frame: self._observe(active, frame),
        )

    def _audio(self, call_id: str, pcm: bytes) -> None:
        active = self.calls.get(call_id)
        if active is None or active.pipeline is None:
            return
        active.pipeline.put(InputAudio(pcm=pcm, sample_rate=8000))
        active.frames_in += 1
        if active.frames_in % _JITTER_SAMPLE_FRAMES == 0:
            metrics.RTP_JITTER.observe(active.media.jitter)
        if self.config.recordings_dir is not None and len(active.recording) < self.config.max_recording_seconds * 16000:
            active.recording += pcm

    def _dtmf(self, call_id: str, digit: str) -> None:
        active = self.calls.get(call_id)
        if active is not None and active.pipeline is not None:
            active.record.keys_pressed += 1
            active.pipeline.put(Dtmf(digit=digit))

    def _observe(self, active: ActiveCall, frame: Frame) -> None:
        if isinstance(frame, TranscriptFinal) and len(active.record.transcripts) < 500:
            active.record.transcripts.append(mask_digits(frame.text))  # card and account numbers read out

    def _hangup_later(self, call_id: str, reason: str) -> None:
        active = self.calls.get(call_id)
        if active is not None:
            self._spawn(self.ua.hangup(active.sip, reason))

    def _transfer_later(self, call_id: str, reason: str) -> None:
        active = self.calls.get(call_id)
        if active is None:
            return
        if self.config.operator_uri:
            self._spawn(self._transfer(active, reason))
        else:  # nobody to hand over to: end the call rather than leave the caller in silence
            log.warning("call %s asked for a transfer but no operator is configured", call_id)
            self._spawn(self.ua.hangup(active.sip, "transfer unavailable"))

    async def _transfer(self, active: ActiveCall, reason: str) -> None:
        log.info("transferring call %s to the operator: %s", active.sip.call_id, reason)
        active.record.transferred = await self.ua.transfer(active.sip, self.config.operator_uri)
        if not active.record.transferred and active.sip.call_id in self.calls:
            # REFER refused or never confirmed: the dialogue has handed the call over, so nobody would answer.
            log.warning("transfer of call %s failed; hanging up", active.sip.call_id)
            await self.ua.hangup(active.sip, "transfer failed")

    def _save_recording(self, call_id: str, pcm: bytes) -> Path:
        assert self.config.recordings_dir is not None
        self.config.recordings_dir.mkdir(parents=True, exist_ok=True)
        safe = "".join(char if char.isalnum() or char in "-_." else "_" for char in call_id)[:80]
        path = self.config.recordings_dir / f"{time.strftime('%Y%m%d-%H%M%S')}-{safe}.wav"
        write_wav(path, np.frombuffer(pcm, dtype="<i2"), 8000)
        return path

    def _spawn(self, coroutine: Coroutine[Any, Any, Any]) -> None:
        task = asyncio.get_running_loop().create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
