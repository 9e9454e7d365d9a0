"""Speech recognition offline: word error rate and real-time factor per engine, at the clips' own rate and through
a phone line (8 kHz G.711 μ-law, decoded and brought back to 16 kHz).

    nice -n 10 .venv/bin/python bench/asr.py --data ../shared/data/speech/ljspeech [--engines ...] [--full-window]
        [--json]

Engines: faster-whisper base and tiny.en (CPU int8, greedy, no prompt: LJSpeech is not a bank's caller) and
pocketsphinx with its general US English model. The reference is LJSpeech's normalised transcript (numbers as
words); both sides are lower-cased, hyphens become spaces, other punctuation is dropped, and the few digits a
recogniser writes are spelled out (years as "fourteen fifty five", as LJSpeech does). WER is the word-level edit
distance over all clips divided by the reference words. The real-time factor is decoding time over audio time
(both conditions), one decode at a time, Whisper as the voice desk runs it (its default threads; the encoder over the
clip plus a margin, at least 20 s — `--full-window` for Whisper's padded 30 s). The default engine is the one with
the lowest WER at 8 kHz among those fast enough for a phone turn (RTF ≤ 0.5 here).
"""

from __future__ import annotations

import argparse
import csv
import re
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from rich.console import Console
from rich.table import Table

from bench._results import publish
from opsdesk.voice.audio import read_wav, resample, ulaw_decode, ulaw_encode
from opsdesk.voice.speech.asr import ENGINES, WhisperRecognizer, recognizer

console = Console(stderr=True, width=140)
MODEL_RATE = 16000
PHONE_RATE = 8000
MAX_RTF_FOR_DEFAULT = 0.5
_ONES = [
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
    "eighteen",
    "nineteen",
]
_TENS = ["", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]


def _below_hundred(n: int) -> list[str]:
    if n < 20:
        return [_ONES[n]]
    return [_TENS[n // 10]] + ([_ONES[n % 10]] if n % 10 else [])


def number_words(digits: str) -> list[str]:
    """An integer spelled out as LJSpeech's normalised text does: years 1100-1999 in pairs, others as cardinals."""
    n = int(digits)
    if 1100 <= n <= 1999 and len(digits) == 4:
        high, low = divmod(n, 100)
        return _below_hundred(high) + (["hundred"] if low == 0 else (["oh"] if low < 10 else []) + _below_hundred(low))
    if n >= 1_000_000:
        return list(digits)  # rare here: read digit by digit rather than guess
    words: list[str] = []
    if n >= 1000:
        words += [*number_words(str(n // 1000)), "thousand"]
        n %= 1000
    if n >= 100:
        words += [_ONES[n // 100], "hundred"]
        n %= 100
    if n or not words:
        words += _below_hundred(n)
    return words


def normalise(text: str) -> list[str]:
    """Lower case, hyphens as spaces, punctuation dropped, digits spelled out."""
    words: list[str] = []
    for token in re.findall(r"[a-z0-9']+", text.lower().replace("-", " ")):
        token = token.strip("'")
        if token.isdigit():
            words += number_words(token)
        elif token:
            words.append(token)
    return words


def edit_distance(reference: list[str], hypothesis: list[str]) -> int:
    """Word-level Levenshtein distance (substitutions, insertions, deletions)."""
    previous = list(range(len(hypothesis) + 1))
    for i, word in enumerate(reference, start=1):
        current = [i]
        for j, other in enumerate(hypothesis, start=1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (word != other)))
        previous = current
    return previous[-1]


def load_clips(data: Path) -> list[tuple[str, str, np.ndarray, int]]:
    clips = []
    with (data / "metadata.csv").open(encoding="utf-8") as handle:
        for row in csv.reader(handle, delimiter="|", quoting=csv.QUOTE_NONE):
            audio = read_wav(data / "wavs" / f"{row[0]}.wav")
            clips.append((row[0], row[2], audio.samples, audio.rate))
    return clips


def conditions(samples: np.ndarray, rate: int) -> dict[str, bytes]:
    native = resample(samples, rate, MODEL_RATE)
    phone = ulaw_decode(ulaw_encode(resample(samples, rate, PHONE_RATE)))
    return {"native": native.tobytes(), "8k": resample(phone, PHONE_RATE, MODEL_RATE).tobytes()}


def run(data: Path, engines: list[str], *, full_window: bool = False) -> dict[str, Any]:
    clips = load_clips(data)
    audio_seconds = sum(samples.size / rate for _, _, samples, rate in clips)
    prepared = [(clip_id, normalise(text), conditions(samples, rate)) for clip_id, text, samples, rate in clips]
    reference_words = sum(len(words) for _, words, _ in prepared)
    console.print(f"{len(clips)} clips, {audio_seconds:.1f} s of speech, {reference_words} reference words")
    results: dict[str, Any] = {}
    examples: dict[str, list[dict[str, str]]] = {}
    for name in engines:
        engine = recognizer(name)
        if full_window and isinstance(engine, WhisperRecognizer):
            engine.short_window = False
        engine.load()
        errors = {"native": 0, "8k": 0}
        decoding = 0.0
        examples[name] = []
        for clip_id, words, audio in prepared:
            for condition, pcm in audio.items():
                started = time.perf_counter()
                text = engine.transcribe_sync(pcm)
                decoding += time.perf_counter() - started
                errors[condition] += edit_distance(words, normalise(text))
                if condition == "8k" and len(examples[name]) < 3:
                    examples[name].append({"clip": clip_id, "heard": text})
        results[name] = {
            "wer_8k": round(errors["8k"] / reference_words, 4),
            "wer_native": round(errors["native"] / reference_words, 4),
            "rtf": round(decoding / (2 * audio_seconds), 4),
        }
        console.print(f"{name}: {results[name]}")
    fast = [name for name in engines if results[name]["rtf"] <= MAX_RTF_FOR_DEFAULT] or engines
    results["default"] = min(fast, key=lambda name: results[name]["wer_8k"])
    for name, heard in examples.items():
        for example in heard:
            console.print(f"  {name} at 8 kHz, {example['clip']}: {example['heard']!r}")
    console.print(f"ASR on {len(clips)} LJSpeech clips ({audio_seconds:.1f} s, {reference_words} words)")
    return results


def show(results: dict[str, Any], engines: list[str]) -> None:
    table = Table(title="ASR: word error rate and real-time factor")
    for column in ("engine", "WER native", "WER 8 kHz μ-law", "real-time factor"):
        table.add_column(column, justify="left" if column == "engine" else "right")
    table.add_row("Whisper base, published (LibriSpeech, 16 kHz)", "4.3 %", "", "", style="dim")
    for name in engines:
        row = results[name]
        table.add_row(
            name + (" (default)" if name == results["default"] else ""),
            f"{100 * row['wer_native']:.1f} %",
            f"{100 * row['wer_8k']:.1f} %",
            f"{row['rtf']:.3f}",
        )
    console.print(table)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, required=True, help="LJSpeech folder: metadata.csv and wavs/")
    parser.add_argument("--engines", nargs="+", default=list(ENGINES), choices=list(ENGINES))
    parser.add_argument("--full-window", action="store_true", help="Whisper's encoder over a padded 30 s window")
    parser.add_argument("--json", action="store_true", help="print one JSON object as the last line")
    args = parser.parse_args()
    results = run(args.data, args.engines, full_window=args.full_window)
    show(results, args.engines)
    publish("asr", results, as_json=args.json)


if __name__ == "__main__":
    main()
