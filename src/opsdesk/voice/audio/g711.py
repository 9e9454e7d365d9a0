"""G.711 μ-law (PCMU) and A-law (PCMA): 16-bit linear PCM to 8-bit codes and back, vectorised.

The codes follow ITU-T G.711 as the reference implementation computes them (the segment/quantisation rule on the
14-bit magnitude for μ-law, the 13-bit magnitude for A-law, with the standard bit inversions). Encoding is one
lookup in a 65,536-entry table built once at import; decoding is one lookup in a 256-entry table.
"""

from __future__ import annotations

from typing import Any

import numpy as np

Pcm16 = np.ndarray[Any, np.dtype[np.int16]]
Codes = np.ndarray[Any, np.dtype[np.uint8]]

_ULAW_BIAS = 0x84  # 132: added to the magnitude so every segment starts on a power of two
_ULAW_CLIP = 8159  # the largest 14-bit magnitude μ-law can code
_SEG_ULAW_END = np.array([0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF, 0x1FFF], dtype=np.int32)
_SEG_ALAW_END = np.array([0x1F, 0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF], dtype=np.int32)


def _ulaw_encode_table() -> Codes:
    linear = np.arange(-32768, 32768, dtype=np.int32) >> 2  # 14-bit
    mask = np.where(linear < 0, 0x7F, 0xFF)
    magnitude = np.minimum(np.abs(linear), _ULAW_CLIP) + (_ULAW_BIAS >> 2)
    segment = np.searchsorted(_SEG_ULAW_END, magnitude)  # the first segment whose end is >= the magnitude
    quant = (magnitude >> np.minimum(segment + 1, 31)) & 0x0F
    code = np.where(segment >= 8, 0x7F, (segment << 4) | quant) ^ mask
    return _by_unsigned_index(code)


def _alaw_encode_table() -> Codes:
    linear = np.arange(-32768, 32768, dtype=np.int32) >> 3  # 13-bit
    mask = np.where(linear >= 0, 0xD5, 0x55)
    magnitude = np.where(linear >= 0, linear, -linear - 1)
    segment = np.searchsorted(_SEG_ALAW_END, magnitude)
    quant = np.where(segment < 2, magnitude >> 1, magnitude >> np.clip(segment, 0, 31)) & 0x0F
    code = np.where(segment >= 8, 0x7F, (segment << 4) | quant) ^ mask
    return _by_unsigned_index(code)


def _by_unsigned_index(code: np.ndarray[Any, np.dtype[Any]]) -> Codes:
    """Reorders a table indexed from -32768 so that it is indexed by the sample's bits read as uint16."""
    table: Codes = np.roll(code.astype(np.uint8), -32768)
    return table


def _ulaw_decode_table() -> Pcm16:
    code = ~np.arange(256, dtype=np.int32) & 0xFF
    t = (((code & 0x0F) << 3) + _ULAW_BIAS) << ((code & 0x70) >> 4)
    table: Pcm16 = np.where(code & 0x80, _ULAW_BIAS - t, t - _ULAW_BIAS).astype(np.int16)
    return table


def _alaw_decode_table() -> Pcm16:
    code = np.arange(256, dtype=np.int32) ^ 0x55
    segment = (code & 0x70) >> 4
    t = (code & 0x0F) << 4
    t = np.where(segment == 0, t + 8, (t + 0x108) << np.maximum(segment - 1, 0))
    table: Pcm16 = np.where(code & 0x80, t, -t).astype(np.int16)
    return table


_ULAW_ENCODE = _ulaw_encode_table()
_ALAW_ENCODE = _alaw_encode_table()
_ULAW_DECODE = _ulaw_decode_table()
_ALAW_DECODE = _alaw_decode_table()


def _encode(table: Codes, pcm: Pcm16 | bytes) -> Codes:
    if isinstance(pcm, bytes | bytearray | memoryview):
        samples = np.frombuffer(pcm, dtype="<i2").astype(np.int16, copy=False)
    else:
        samples = np.asarray(pcm, dtype=np.int16)
    codes: Codes = table[samples.view(np.uint16)]
    return codes


def _decode(table: Pcm16, data: Codes | bytes) -> Pcm16:
    if isinstance(data, bytes | bytearray | memoryview):
        codes = np.frombuffer(data, dtype=np.uint8)
    else:
        codes = np.asarray(data, dtype=np.uint8)
    pcm: Pcm16 = table[codes]
    return pcm


def ulaw_encode(pcm: Pcm16 | bytes) -> Codes:
    """μ-law codes of 16-bit samples (an int16 array, or little-endian PCM bytes)."""
    return _encode(_ULAW_ENCODE, pcm)


def ulaw_decode(data: Codes | bytes) -> Pcm16:
    """16-bit samples of μ-law codes."""
    return _decode(_ULAW_DECODE, data)


def alaw_encode(pcm: Pcm16 | bytes) -> Codes:
    """A-law codes of 16-bit samples (an int16 array, or little-endian PCM bytes)."""
    return _encode(_ALAW_ENCODE, pcm)


def alaw_decode(data: Codes | bytes) -> Pcm16:
    """16-bit samples of A-law codes."""
    return _decode(_ALAW_DECODE, data)


# RTP static payload types (RFC 3551) and the encoder/decoder pair of each.
PCMU = 0
PCMA = 8
ENCODERS = {PCMU: ulaw_encode, PCMA: alaw_encode}
DECODERS = {PCMU: ulaw_decode, PCMA: alaw_decode}
# A code that decodes to (near) zero: what silence is on the wire.
SILENCE = {PCMU: 0xFF, PCMA: 0xD5}
