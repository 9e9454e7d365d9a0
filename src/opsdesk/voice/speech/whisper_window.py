"""Whisper over a short window, for phone turns: one greedy decode of one utterance or of a batch of them.

Whisper's encoder reads 30 s of audio however short the utterance, and for a phone turn of a second or two it is
most of the decode. Here the encoder reads the utterance plus a 2 s margin, at least 5 s (10 s until 2026-12-07:
docs/voice.md measures both), the rest of the window filled with the log-mel of silence, as Whisper's own padding
is. Shorter windows can make the greedy decoder loop ("Yes. Yes. Yes.", "I lost my card, and I lost my card, and
…"); a decode that loops — a run of words said twice, a word said three times in a row, a sentence repeated, or its
token budget used up — is made again the way it was made before the short window: over 20 s, the rest zeros, which
did not loop on the phrases tried (over 20 s of silence some did). A batch shares one window (its longest
utterance's) and one encoder and decoder call: the decoder's per-token work is shared, which is what makes a batch
cheaper per utterance (the encoder's is not). Each batch's time and each fallback are counted
(`opsdesk_voice_asr_decode_seconds{window}`, `opsdesk_voice_asr_fallback_decodes_total`).
"""

from __future__ import annotations

import itertools
import math
import re
import time
from typing import Any

import numpy as np

from opsdesk.voice import metrics

MODEL_RATE = 16000
MIN_SECONDS = 5
SAFE_SECONDS = 20  # where a looping decode is made again
MARGIN_SECONDS = 2
MAX_SECONDS = 30
MAX_AUDIO_SECONDS = 10  # a caller's turn; longer audio (a whole reply read back) gets faster-whisper's own loop
MAX_TOKENS = 128  # a runaway repetition stops here (a 20 s utterance is about 80 tokens)
SILENCE_RMS = 10 ** (-50 / 20)  # -50 dBFS: below a phone line's quietest speech (about -35 dBFS), above its hiss
NO_SPEECH_THRESHOLD = 0.6  # faster-whisper's defaults for "this window held no speech"
LOGPROB_THRESHOLD = -1.0
_SENTENCE = re.compile(r"[^.!?]+[.!?]*")
_WORDS = re.compile(r"[a-z0-9']+")


def sentences(text: str) -> list[str]:
    return [sentence for sentence in (match.group(0).strip() for match in _SENTENCE.finditer(text)) if sentence]


def without_loops(text: str) -> str:
    """The text with a sentence repeated back to back kept once ("Okay. Okay. Okay." → "Okay.")."""
    kept: list[str] = []
    for sentence in sentences(text):
        if not kept or sentence.lower() != kept[-1].lower():
            kept.append(sentence)
    return " ".join(kept)


def repeats_itself(text: str) -> bool:
    """Whether the text says a run of three words twice ("I lost my card, and I lost my card"), a word or two three
    times back to back ("x x x"), or a sentence twice: the greedy decoder looping rather than a caller speaking (a
    caller reading digits repeats them, so runs of digits alone do not count)."""
    lowered = [sentence.lower() for sentence in sentences(text)]
    if any(a == b for a, b in itertools.pairwise(lowered)):
        return True
    words = _WORDS.findall(text.lower())
    runs = [run for run in zip(words, words[1:], words[2:], strict=False) if not all(w.isdigit() for w in run)]
    if len(set(runs)) < len(runs):
        return True
    for span in (1, 2):
        for start in range(len(words) - 3 * span + 1):
            run = words[start : start + span]
            repeated = run == words[start + span : start + 2 * span] == words[start + 2 * span : start + 3 * span]
            if repeated and not all(word.isdigit() for word in run):
                return True
    return False


def window_seconds(samples: int) -> int:
    return min(MAX_SECONDS, max(MIN_SECONDS, math.ceil(samples / MODEL_RATE + MARGIN_SECONDS)))


def decode_short(model: Any, audios: list[np.ndarray], *, prompt: str | None, language: str | None) -> list[str]:
    """The texts of utterances (float32 at 16 kHz, each up to `MAX_AUDIO_SECONDS`), decoded as one batch by a
    faster-whisper `WhisperModel`; the ones that looped are decoded again, alone, over `SAFE_SECONDS`. Audio quieter
    than `SILENCE_RMS` throughout is no words, without a decode (Whisper reads "you" into a second of silence)."""
    heard = [index for index, audio in enumerate(audios) if _rms(audio) >= SILENCE_RMS]
    texts = [""] * len(audios)
    if heard:
        for index, text in zip(heard, _decode_batch(model, [audios[i] for i in heard], prompt, language), strict=True):
            texts[index] = text
    return texts


def _rms(audio: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(audio, dtype=np.float64)))) if audio.size else 0.0


def _decode_batch(model: Any, audios: list[np.ndarray], prompt: str | None, language: str | None) -> list[str]:
    began = time.monotonic()
    features = [model.feature_extractor(audio) for audio in audios]
    window = max(window_seconds(audio.size) for audio in audios)
    decoded = _decode(model, features, [audio.size for audio in audios], window, prompt=prompt, language=language)
    metrics.ASR_DECODE_SECONDS.labels("short").observe(time.monotonic() - began)
    texts = []
    for index, (text, looped) in enumerate(decoded):
        if looped and window < SAFE_SECONDS:
            began, size = time.monotonic(), audios[index].size
            text, _ = _decode(
                model, [features[index]], [size], SAFE_SECONDS, prompt=prompt, language=language, silence=False
            )[0]
            metrics.ASR_FALLBACK_DECODES.inc()
            metrics.ASR_DECODE_SECONDS.labels("fallback").observe(time.monotonic() - began)
        texts.append(without_loops(text))
    return texts


def _decode(
    model: Any,
    features: list[np.ndarray],
    samples: list[int],
    seconds: int,
    *,
    prompt: str | None,
    language: str | None,
    silence: bool = True,
) -> list[tuple[str, bool]]:
    """(text, whether the decoder looped) of each utterance's features in a window of `seconds`, the rest of the
    window silence (or zeros, as the 20 s decode has always had)."""
    import ctranslate2
    from faster_whisper.tokenizer import Tokenizer
    from faster_whisper.transcribe import get_suppressed_tokens

    frames = int(seconds * 100)  # 10 ms per frame
    batch = np.empty((len(features), features[0].shape[0], frames), dtype=np.float32)
    for row, feature in zip(batch, features, strict=True):
        row[:] = float(feature.max()) - 2.0 if silence else 0.0  # silence: 8 log units (2 scaled) below the loudest
        used = min(frames, feature.shape[1])
        row[:, :used] = feature[:, :used]
    tokenizer = Tokenizer(model.hf_tokenizer, model.model.is_multilingual, task="transcribe", language=language)
    previous = tokenizer.encode(" " + prompt.strip()) if prompt else []
    tokens_in = model.get_prompt(tokenizer, previous, without_timestamps=True)
    encoded = model.model.encode(ctranslate2.StorageView.from_array(batch), to_cpu=False)
    budgets = [min(MAX_TOKENS, 12 + math.ceil(8 * size / MODEL_RATE)) for size in samples]  # speech: ~4 tokens/s
    results = model.model.generate(
        encoded,
        [tokens_in] * len(features),
        beam_size=1,
        max_length=len(tokens_in) + max(budgets),
        suppress_blank=True,
        suppress_tokens=get_suppressed_tokens(tokenizer, [-1]),
        return_scores=True,
        return_no_speech_prob=True,
    )
    decoded = []
    for result, budget in zip(results, budgets, strict=True):
        tokens = [token for token in result.sequences_ids[0] if token < tokenizer.eot]
        average_logprob = result.scores[0] / (len(tokens) + 1)
        if result.no_speech_prob > NO_SPEECH_THRESHOLD and average_logprob < LOGPROB_THRESHOLD:
            decoded.append(("", False))  # what faster-whisper's own loop drops as silence: a murmur, a click
            continue
        text = str(tokenizer.decode(tokens[:budget])).strip()
        decoded.append((text, len(tokens) >= budget or repeats_itself(text)))
    return decoded
