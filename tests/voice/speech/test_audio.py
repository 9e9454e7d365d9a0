"""G.711 codes as the reference implementation computes them (Python's audioop), resampling and WAV files."""

from __future__ import annotations

import audioop
import struct
from pathlib import Path

import numpy as np
import pytest

from opsdesk.voice.audio import (
    PCMA,
    PCMU,
    SILENCE,
    Resampler,
    WavError,
    alaw_decode,
    alaw_encode,
    decode_wav,
    encode_wav,
    read_wav,
    resample,
    ulaw_decode,
    ulaw_encode,
    write_wav,
)

EVERY_SAMPLE = np.arange(-32768, 32768, dtype=np.int16)
EVERY_CODE = bytes(range(256))


def _tone(rate: int, seconds: float, hz: float = 440.0, level: float = 10000.0) -> np.ndarray:
    t = np.arange(int(rate * seconds)) / rate
    return (level * np.sin(2 * np.pi * hz * t)).astype(np.int16)


def test_ulaw_encodes_every_sample_as_the_reference_does() -> None:
    assert ulaw_encode(EVERY_SAMPLE).tobytes() == audioop.lin2ulaw(EVERY_SAMPLE.tobytes(), 2)


def test_alaw_encodes_every_sample_as_the_reference_does() -> None:
    assert alaw_encode(EVERY_SAMPLE).tobytes() == audioop.lin2alaw(EVERY_SAMPLE.tobytes(), 2)


def test_every_code_decodes_as_the_reference_does() -> None:
    assert ulaw_decode(EVERY_CODE).astype("<i2").tobytes() == audioop.ulaw2lin(EVERY_CODE, 2)
    assert alaw_decode(EVERY_CODE).astype("<i2").tobytes() == audioop.alaw2lin(EVERY_CODE, 2)


def test_round_trip_keeps_a_tone_within_the_codecs_step() -> None:
    tone = _tone(8000, 0.1)
    for encode, decode in ((ulaw_encode, ulaw_decode), (alaw_encode, alaw_decode)):
        back = decode(encode(tone.tobytes())).astype(np.int32)
        assert back.size == tone.size
        # G.711 keeps about 12 bits of precision: the error stays under 1/30 of the sample's magnitude plus a step.
        assert np.all(np.abs(back - tone) <= np.abs(tone) / 30 + 16)


def test_silence_codes_decode_to_near_zero() -> None:
    assert abs(int(ulaw_decode(bytes([SILENCE[PCMU]]))[0])) == 0
    assert abs(int(alaw_decode(bytes([SILENCE[PCMA]]))[0])) <= 8


def test_resampling_doubles_and_halves_the_sample_count_and_keeps_the_tone() -> None:
    tone = _tone(8000, 0.5)
    up = resample(tone, 8000, 16000)
    assert up.size == 2 * tone.size
    spectrum = np.abs(np.fft.rfft(up.astype(np.float64)))
    assert np.argmax(spectrum) * 16000 / up.size == pytest.approx(440, abs=2)
    back = resample(up, 16000, 8000)
    assert back.size == tone.size
    assert np.max(np.abs(back[100:-100].astype(np.int32) - tone[100:-100])) < 200


def test_streaming_resampler_matches_the_whole_buffer_after_its_delay() -> None:
    tone = _tone(8000, 1.0)
    stream = Resampler(8000, 16000)
    frames = [stream.process(tone[i : i + 160]) for i in range(0, tone.size, 160)]
    assert all(frame.size == 320 for frame in frames)
    streamed = np.concatenate(frames).astype(np.int32)
    whole = resample(tone, 8000, 16000).astype(np.int32)
    errors = [np.max(np.abs(streamed[2000 + d : 14000 + d] - whole[2000:14000])) for d in range(40)]
    # It lags by half its filter (under 2.5 ms) and otherwise agrees: no sample is lost or repeated between frames.
    assert min(errors) < 300


def test_streaming_resampler_of_an_uneven_ratio_yields_the_right_total() -> None:
    stream = Resampler(22050, 16000)
    total = sum(stream.process(np.zeros(441, dtype=np.int16)).size for _ in range(50))
    assert total == 16000


def test_wav_round_trip(tmp_path: Path) -> None:
    tone = _tone(16000, 0.25)
    write_wav(tmp_path / "tone.wav", tone, 16000)
    audio = read_wav(tmp_path / "tone.wav")
    assert audio.rate == 16000
    assert np.array_equal(audio.samples, tone)
    assert audio.seconds == pytest.approx(0.25)


def test_wav_reader_takes_ulaw_stereo_and_a_streamed_data_size() -> None:
    tone = _tone(8000, 0.1)
    codes = ulaw_encode(tone).tobytes()
    fmt = struct.pack("<HHIIHH", 7, 1, 8000, 8000, 1, 8)
    ulaw = b"RIFF" + struct.pack("<I", 0) + b"WAVE" + b"fmt " + struct.pack("<I", 16) + fmt
    ulaw += b"data" + struct.pack("<I", 0x7FFFFFFF) + codes  # as a writer to a pipe leaves it
    assert np.array_equal(decode_wav(ulaw).samples, ulaw_decode(codes))

    stereo = np.stack([tone, tone], axis=1).reshape(-1)
    data = bytearray(encode_wav(stereo, 8000))
    data[22:24] = struct.pack("<H", 2)  # two channels, same bytes
    data[32:34] = struct.pack("<H", 4)
    data[28:32] = struct.pack("<I", 8000 * 4)
    assert np.array_equal(decode_wav(bytes(data)).samples, tone)


def test_wav_reader_refuses_what_is_not_a_wav() -> None:
    with pytest.raises(WavError):
        decode_wav(b"ID3\x03" + bytes(100))
    with pytest.raises(WavError):
        decode_wav(b"RIFF" + struct.pack("<I", 4) + b"WAVE")


def test_streaming_resampler_of_an_uneven_ratio_matches_the_whole_buffer() -> None:
    tone = _tone(22050, 1.0)
    stream = Resampler(22050, 8000)
    streamed = np.concatenate([stream.process(tone[i : i + 441]) for i in range(0, tone.size, 441)]).astype(np.int32)
    whole = resample(tone, 22050, 8000).astype(np.int32)
    errors = [np.max(np.abs(streamed[1000 + d : 7000 + d] - whole[1000:7000])) for d in range(40)]
    assert min(errors) < 300


def test_a_streaming_resampler_between_equal_rates_passes_frames_through() -> None:
    frame = np.arange(-80, 80, dtype=np.int16)
    assert np.array_equal(Resampler(8000, 8000).process(frame), frame)
