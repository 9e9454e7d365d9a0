"""A real softphone calls the gateway: baresip (Debian), headless, speaking a WAV file and recording what it hears."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import numpy as np
import pytest

from opsdesk.voice.audio import read_wav, write_wav
from opsdesk.voice.pipeline.processors import tone as prompt_tone
from tests.voice.telephony.conftest import StartDesk
from tests.voice.telephony.peers import dominant_frequencies, free_port, silence, tone

BARESIP = shutil.which("baresip")
MODULES = Path("/usr/lib/baresip/modules")
pytestmark = pytest.mark.skipif(
    BARESIP is None or not (MODULES / "aufile.so").exists(), reason="baresip with the aufile module is not installed"
)


def _config(directory: Path, speech: Path) -> None:
    sip, rtp = free_port(span=2), free_port(span=20)  # baresip binds SIP on UDP, TCP and TLS (the next port)
    lines = {
        "poll_method": "epoll",
        "sip_listen": f"127.0.0.1:{sip}",
        "sip_transports": "udp",
        "audio_source": f"aufile,{speech}",  # the caller speaks the file, then hangs up at its end
        "audio_player": "aubridge,nowhere",
        "audio_alert": "aubridge,nowhere",
        "audio_srate": "8000",
        "audio_channels": "1",
        "rtp_ports": f"{rtp}-{rtp + 20}",
        "module_path": str(MODULES),
        "snd_path": str(directory),  # sndfile writes what the phone sent and heard here
    }
    modules = ["stdio.so", "g711.so", "aufile.so", "aubridge.so", "sndfile.so"]
    text = "".join(f"{key}\t{value}\n" for key, value in lines.items())
    text += "".join(f"module\t{name}\n" for name in modules)
    text += "module_app\taccount.so\nmodule_app\tmenu.so\n"
    (directory / "config").write_text(text)
    (directory / "accounts").write_text("<sip:+15550123@127.0.0.1>;regint=0;audio_codecs=PCMU\n")
    (directory / "contacts").write_text("")


def _recorded(directory: Path) -> Path:
    """The file sndfile wrote with what the phone heard (decoded from our RTP)."""
    return next(directory.glob("dump-*-dec.wav"))


async def test_baresip_hears_the_prompt_and_its_own_words_back(start_desk: StartDesk, tmp_path: Path) -> None:
    desk = await start_desk(prompt=prompt_tone(440, 1.0))
    speech = tmp_path / "caller.wav"
    write_wav(speech, np.concatenate([silence(1.5), tone(700, 1.0), silence(3.0)]), 8000)
    _config(tmp_path, speech)
    phone = await asyncio.create_subprocess_exec(
        str(BARESIP),
        "-f",
        str(tmp_path),
        "-n",
        "127.0.0.1",  # SDP names the address the packets come from (else the gateway, strict by default, ignores them)
        "-e",
        f"/dial sip:desk@127.0.0.1:{desk.port}",
        "-t",
        "8",  # the phone quits (hanging up) after the 5.5 s it has to say
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await asyncio.wait_for(phone.communicate(), 40)
    log = output.decode(errors="replace")

    assert "Call established" in log, log[-3000:]
    heard = read_wav(_recorded(tmp_path))
    frequencies = dominant_frequencies(heard.samples)
    assert frequencies.count(440) >= 40, log[-2000:]  # the prompt
    assert frequencies.count(700) >= 40  # the caller's words played back
    assert frequencies.index(440) < frequencies.index(700)
    record = (await desk.gateway.wait_for_records(1))[-1]
    assert record.caller == "+15550123"
    assert record.outcome == "caller hung up"
