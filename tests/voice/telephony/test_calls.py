"""Calls from sipp (a real SIP peer) to the gateway: audio both ways, hang-ups either side, CANCEL, 488, OPTIONS,
hold, transfer and DTMF. The caller's media is our own UDP socket where the test needs to see every packet."""

from __future__ import annotations

import asyncio
import itertools
from pathlib import Path

import numpy as np
import pytest

from opsdesk.voice.gateway import CallRecord, GatewayConfig, VoiceGateway
from opsdesk.voice.pipeline.processors import tone as prompt_tone
from opsdesk.voice.sip.config import UserAgentConfig
from tests.voice.telephony.conftest import StartDesk
from tests.voice.telephony.peers import SIPP, MediaPeer, SippResult, dominant_frequencies, run_sipp, silence, tone

pytestmark = pytest.mark.skipif(SIPP is None, reason="sipp (Debian sip-tester) is not installed")


def _call(scenario: str, port: int, media: MediaPeer, workdir: Path, pause_ms: int = 0) -> asyncio.Task[SippResult]:
    """sipp places the call in the background, with `media` as the caller's RTP endpoint."""
    variables = {"mport": str(media.port)}
    return asyncio.create_task(run_sipp(scenario, port, workdir, pause_ms=pause_ms, variables=variables))


async def test_a_call_hears_the_prompt_then_its_own_words_and_the_packets_are_evenly_spaced(
    start_desk: StartDesk, tmp_path: Path
) -> None:
    desk = await start_desk(prompt=prompt_tone(440, 1.0))
    media = await MediaPeer().open()
    call = _call("call", desk.port, media, tmp_path, 4500)
    await media.wait_for_media()
    await asyncio.sleep(1.2)  # let the prompt finish before speaking
    await media.send_audio(np.concatenate([tone(1000, 0.8), silence(1.0)]))
    result = await call
    media.close()

    assert result.returncode == 0, result.explain()
    packets = [item.packet for item in media.packets]
    assert {packet.payload_type for packet in packets} == {0}
    assert {len(packet.payload) for packet in packets} == {160}
    assert len({packet.ssrc for packet in packets}) == 1
    steps = {(b.sequence - a.sequence) & 0xFFFF for a, b in itertools.pairwise(packets)}
    assert steps == {1}  # one packet per slot, none lost, none duplicated
    stamps = [(b.timestamp - a.timestamp) & 0xFFFFFFFF for a, b in itertools.pairwise(packets)]
    # 160 samples a packet; a slot skipped after a stall (a loaded machine) moves the clock on by whole slots
    assert all(step > 0 and step % 160 == 0 for step in stamps)
    assert stamps.count(160) >= 0.9 * len(stamps)
    heard = dominant_frequencies(media.audio())
    assert heard.count(440) >= 45  # the one-second prompt
    assert heard.count(1000) >= 35  # the caller's 0.8 s of tone, played back
    assert heard.index(440) < heard.index(1000)
    record = (await desk.gateway.wait_for_records(1))[-1]
    assert record.outcome == "caller hung up"
    assert record.caller == "+15550100"
    assert record.packets_in >= 80
    assert desk.dialogues[0].echoed == 1
    assert {timing.stage for timing in record.timings} >= {"vad", "dialogue", "output"}


async def test_audio_streamed_by_sipp_is_received_recorded_and_echoed(start_desk: StartDesk, tmp_path: Path) -> None:
    from opsdesk.voice.audio import ulaw_encode

    speech = np.concatenate([silence(0.3), tone(700, 1.0), silence(1.2)])
    (tmp_path / "caller.ul").write_bytes(ulaw_encode(speech).tobytes())
    desk = await start_desk(recordings_dir=tmp_path / "recordings")
    result = await run_sipp("call_rtp_stream", desk.port, tmp_path, pause_ms=3500)

    assert result.returncode == 0, result.explain()
    record = (await desk.gateway.wait_for_records(1))[-1]
    assert record.packets_in >= 100
    assert record.recording is not None and record.recording.exists()
    from opsdesk.voice.audio import read_wav

    recorded = read_wav(record.recording)
    assert recorded.rate == 8000
    assert dominant_frequencies(recorded.samples).count(700) >= 45
    assert desk.dialogues[0].echoed == 1


async def test_the_gateway_hangs_up_with_bye_when_it_shuts_down(start_desk: StartDesk, tmp_path: Path) -> None:
    desk = await start_desk()
    media = await MediaPeer().open()
    call = _call("bye_from_gateway", desk.port, media, tmp_path)
    await media.wait_for_media()
    await desk.gateway.stop()
    result = await call
    media.close()

    assert result.returncode == 0, result.explain()
    assert (await desk.gateway.wait_for_records(1))[-1].outcome == "gateway shutting down"
    assert not desk.gateway.calls


async def test_a_slow_teardown_neither_holds_back_the_bye_nor_loses_the_record(tmp_path: Path) -> None:
    """On a loaded machine a call's teardown (its record stored) can take longer than the shutdown's grace for
    BYE answers: the caller still gets the BYE at once, and the record is still stored (CI once lost both)."""
    stored: list[CallRecord] = []
    storing, release = asyncio.Event(), asyncio.Event()

    async def slow_store(record: CallRecord, dialogue: object) -> None:
        storing.set()
        await release.wait()  # held until the caller has had its BYE: longer than the user agent's 2 s grace
        stored.append(record)

    gateway = VoiceGateway(GatewayConfig(sip=UserAgentConfig(port=0), rtp_ports=(44000, 46000)), on_record=slow_store)
    await gateway.start()
    media = await MediaPeer().open()
    call = _call("bye_from_gateway", gateway.port, media, tmp_path)
    await media.wait_for_media()
    stopping = asyncio.create_task(gateway.stop())
    await storing.wait()
    result = await call  # the BYE came while the record was still being stored
    await asyncio.sleep(2.5)  # past the grace: the teardown is not cancelled
    release.set()
    await stopping
    media.close()

    assert result.returncode == 0, result.explain()
    assert [record.outcome for record in stored] == ["gateway shutting down"]


async def test_a_call_longer_than_the_limit_is_ended_by_the_gateway(start_desk: StartDesk, tmp_path: Path) -> None:
    desk = await start_desk(max_call_seconds=1.0)
    media = await MediaPeer().open()
    result = await run_sipp("bye_from_gateway", desk.port, tmp_path, variables={"mport": str(media.port)})
    media.close()

    assert result.returncode == 0, result.explain()
    assert (await desk.gateway.wait_for_records(1))[-1].outcome == "too long"


async def test_cancel_before_answer_gets_487_and_frees_the_call(start_desk: StartDesk, tmp_path: Path) -> None:
    desk = await start_desk(answer_delay=20.0)
    result = await run_sipp("cancel", desk.port, tmp_path, variables={"mport": "40000"})

    assert result.returncode == 0, result.explain()
    assert "SIP/2.0 487 Request Terminated" in result.messages
    assert (await desk.gateway.wait_for_records(1))[-1].outcome == "cancelled"
    assert not desk.gateway.calls
    assert desk.gateway.ua.policy.active() == 0


async def test_an_offer_with_only_g729_is_refused_with_488(start_desk: StartDesk, tmp_path: Path) -> None:
    desk = await start_desk()
    result = await run_sipp("unsupported_codec", desk.port, tmp_path)

    assert result.returncode == 0, result.explain()
    assert "SIP/2.0 488 Not Acceptable Here" in result.messages
    assert not desk.gateway.calls
    assert desk.gateway.ua.policy.active() == 0


async def test_options_is_answered_200_with_the_methods_allowed(start_desk: StartDesk, tmp_path: Path) -> None:
    desk = await start_desk()
    result = await run_sipp("options", desk.port, tmp_path)

    assert result.returncode == 0, result.explain()


async def test_hold_and_resume_by_reinvite(start_desk: StartDesk, tmp_path: Path) -> None:
    desk = await start_desk()
    media = await MediaPeer().open()
    result = await run_sipp("hold", desk.port, tmp_path, variables={"mport": str(media.port)})
    media.close()

    assert result.returncode == 0, result.explain()
    assert (await desk.gateway.wait_for_records(1))[-1].outcome == "caller hung up"


async def test_keypad_digits_sent_as_rfc4733_events_reach_the_pipeline(start_desk: StartDesk, tmp_path: Path) -> None:
    desk = await start_desk()
    media = await MediaPeer().open()
    call = _call("call", desk.port, media, tmp_path, 2500)
    await media.wait_for_media()
    await media.send_digits("12#9")
    result = await call
    media.close()

    assert result.returncode == 0, result.explain()
    assert desk.dialogues[0].digits == ["1", "2", "#", "9"]
    record = (await desk.gateway.wait_for_records(1))[-1]
    assert record.keys_pressed == 4
    assert "12#9" not in repr(record)  # the record keeps how many keys, not which


async def test_pressing_0_transfers_the_call_to_the_operator_by_refer(start_desk: StartDesk, tmp_path: Path) -> None:
    desk = await start_desk(operator_uri="sip:operator@127.0.0.1:5999")
    media = await MediaPeer().open()
    call = _call("transfer", desk.port, media, tmp_path)
    await media.wait_for_media()
    await media.send_digits("0")
    result = await call
    media.close()

    assert result.returncode == 0, result.explain()
    record = (await desk.gateway.wait_for_records(1))[-1]
    assert record.transferred
    assert record.outcome == "transferred"


async def test_the_caller_speaking_over_the_prompt_stops_it_at_once(start_desk: StartDesk, tmp_path: Path) -> None:
    desk = await start_desk(prompt=prompt_tone(440, 6.0))
    media = await MediaPeer().open()
    call = _call("call", desk.port, media, tmp_path, 4000)
    await media.wait_for_media()
    await asyncio.sleep(0.5)
    await media.send_audio(np.concatenate([tone(1000, 0.6), silence(1.0)]))
    result = await call
    media.close()

    assert result.returncode == 0, result.explain()
    heard = dominant_frequencies(media.audio())
    assert heard.count(440) < 200  # far less than the 300 frames of the six-second prompt
    assert desk.dialogues[0].echoed == 1  # the caller's words were heard and played back
    assert heard.count(1000) >= 25


async def test_over_tcp_a_call_is_answered_and_the_gateways_bye_goes_back_on_the_connection(
    start_desk: StartDesk, tmp_path: Path
) -> None:
    desk = await start_desk(max_call_seconds=1.5)
    options = await run_sipp("options", desk.port, tmp_path, tcp=True)
    media = await MediaPeer().open()
    call = await run_sipp("bye_from_gateway", desk.port, tmp_path, variables={"mport": str(media.port)}, tcp=True)
    media.close()

    assert options.returncode == 0, options.explain()
    assert call.returncode == 0, call.explain()
    assert "SIP/2.0/TCP" in call.messages.split("BYE sip:", 1)[1]  # our BYE's Via names TCP
    assert ";transport=tcp>" in call.messages  # and our Contact keeps the dialog on TCP
    assert len(media.packets) > 10
    assert (await desk.gateway.wait_for_records(1))[-1].outcome == "too long"
