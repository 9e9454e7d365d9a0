"""A learned check that two questions ask the same thing, from MiniLM's view of their words and a few word counts.

MiniLM puts many different questions close together ("Who won the Super Bowl in 2009?" / "… in 2014?", "Is
delivery free for large orders?" / "… small orders?" at 0.94). The verifier is a small neural network (one hidden
layer of 32) over twenty numbers: the cosine of the two question vectors, cheap lexical overlaps (word,
content-word, bigram and character-trigram Jaccard, words found on one side only, question word, negation,
capitalised names) and a word alignment in the spirit of BERTScore: MiniLM's vector of each content word in its
context (`LocalMiniLM.embed_with_tokens`) against the best-matching word on the other side (mean, worst, and how
many words match nothing above 0.6-0.9).
It was trained on one half of the QQP pairs in ../shared/data/gptcache and measured on the other
(`bench/train_pair_verifier.py`, which writes `data/pair_verifier.npz` and records the data's hash, the split and
the held-out figures). The number and calendar agreement check stays a hard rule in `semantic.choose`, so the
verifier only sees, and was only trained on, pairs that agree.

The word vectors cost one MiniLM run per question (a few ms; kept per text in the process, so a cached question
is run once): only the best candidate is verified, and `SemanticCache.lookup` computes them off the event loop.
"""

from __future__ import annotations

import asyncio
import json
import re
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import lru_cache
from itertools import pairwise
from pathlib import Path
from typing import Any

import numpy as np

from opsdesk.core.errors import ConfigurationError

Vector = np.ndarray[Any, np.dtype[np.float32]]

SHIPPED = Path(__file__).resolve().parent / "data" / "pair_verifier.npz"
HIDDEN = 32
LEXICAL = (
    "word_jaccard",
    "content_jaccard",
    "bigram_jaccard",
    "trigram_jaccard",
    "one_side_words_min",
    "one_side_words_max",
    "length_difference",
    "same_first_word",
    "same_question_words",
    "negation_differs",
    "names_differ",
)
ALIGNMENT = (
    "align_mean_low",
    "align_mean_high",
    "align_min_low",
    "align_min_high",
    "unmatched_60",
    "unmatched_70",
    "unmatched_80",
    "unmatched_90",
)
FEATURES = 1 + len(LEXICAL) + len(ALIGNMENT)  # cosine, lexical, word alignment

_WORD = re.compile(r"[a-z0-9]+")
_NAME = re.compile(r"[A-Za-z][\w']*")
_SPACE = re.compile(r"\s+")
_WH_WORDS = frozenset({"what", "which", "who", "whom", "whose", "how", "why", "when", "where"})
_STOP = _WH_WORDS | frozenset(
    re.findall(
        r"[a-z]+",
        """
    a an the is are was were be been being do does
    did to of in on at for with by from and or
    but if then so as it its this that these those i
    you he she we they me my your our their his her
    can could would should will shall may might must have has had
    not no any some there here about into than too very just
    also more most much many such own same other only one someone
    """,
    )
)
_QUESTION_WORDS = _WH_WORDS | frozenset({"is", "are", "can", "do", "does", "should", "will"})
_NEGATIONS = frozenset(["not", "no", "never", "without", "nt", "cannot"])


def _words(text: str) -> list[str]:
    return _WORD.findall(text.lower().replace("n't", " nt"))


def _jaccard(left: set[Any] | frozenset[Any], right: set[Any] | frozenset[Any]) -> float:
    union = len(left | right)
    return len(left & right) / union if union else 1.0


def _trigrams(text: str) -> set[str]:
    flat = _SPACE.sub(" ", text.lower())
    return {flat[i : i + 3] for i in range(len(flat) - 2)}


def _names(text: str) -> set[str]:
    """Capitalised words after the first: names, mostly ("Messi", "Excel")."""
    return {word.lower() for word in _NAME.findall(text)[1:] if word[0].isupper()}


def lexical_features(question: str, other: str) -> list[float]:
    """The word-level features of a pair, in the order of `LEXICAL` (symmetric in the two questions)."""
    words, other_words = _words(question), _words(other)
    unique, other_unique = set(words), set(other_words)
    content, other_content = unique - _STOP, other_unique - _STOP
    only, other_only = len(content - other_content), len(other_content - content)
    return [
        _jaccard(unique, other_unique),
        _jaccard(content, other_content),
        _jaccard(set(pairwise(words)), set(pairwise(other_words))),
        _jaccard(_trigrams(question), _trigrams(other)),
        min(only, other_only, 5) / 5,
        min(max(only, other_only), 5) / 5,
        abs(len(words) - len(other_words)) / max(len(words), len(other_words), 1),
        float(bool(words) and bool(other_words) and words[0] == other_words[0]),
        float({w for w in words[:3] if w in _QUESTION_WORDS} == {w for w in other_words[:3] if w in _QUESTION_WORDS}),
        float(bool(unique & _NEGATIONS) != bool(other_unique & _NEGATIONS)),
        min(len(_names(question) ^ _names(other)), 3) / 3,
    ]


@dataclass(frozen=True)
class WordVectors:
    """A question's words (lower-cased, as MiniLM's tokenizer splits them) and MiniLM's unit vector for each word in
    its context (`LocalMiniLM.embed_with_tokens`)."""

    words: tuple[str, ...]
    vectors: Vector


_UNMATCHED_CUTS = (0.6, 0.7, 0.8, 0.9)


def _best_matches(words: WordVectors, other: WordVectors) -> Vector:
    """For each content word of `words`, its best cosine among the words of `other` (punctuation left out)."""
    content = [i for i, word in enumerate(words.words) if _WORD.fullmatch(word) and word not in _STOP]
    targets = [i for i, word in enumerate(other.words) if _WORD.search(word)]
    if not content:
        return np.ones(0, dtype=np.float32)
    if not targets:
        return np.zeros(len(content), dtype=np.float32)
    best: Vector = (words.vectors[content] @ other.vectors[targets].T).max(axis=1).astype(np.float32)
    return best


def alignment_features(words: WordVectors, other: WordVectors) -> list[float]:
    """Word alignment in the spirit of BERTScore: each content word's best match on the other side, in the order of
    `ALIGNMENT` (symmetric). A reworded question matches word by word; "large orders" / "small orders" leaves one
    word that matches nothing well."""
    forward, backward = _best_matches(words, other), _best_matches(other, words)
    means = [float(side.mean()) if side.size else 1.0 for side in (forward, backward)]
    lows = [float(side.min()) if side.size else 1.0 for side in (forward, backward)]
    both = np.concatenate([forward, backward])
    return [
        min(means),
        max(means),
        min(lows),
        max(lows),
        *(min(int((both < cut).sum()), 3) / 3 for cut in _UNMATCHED_CUTS),
    ]


def pair_features(
    vector: Vector, question: str, words: WordVectors, other_vector: Vector, other: str, other_words: WordVectors
) -> Vector:
    """The verifier's input for one pair of unit vectors, their questions and their word vectors."""
    features = np.empty(FEATURES, dtype=np.float32)
    features[0] = float(vector @ other_vector)
    features[1 : 1 + len(LEXICAL)] = lexical_features(question, other)
    features[1 + len(LEXICAL) :] = alignment_features(words, other_words)
    return features


@dataclass(frozen=True)
class PairModel:
    """One hidden layer (ReLU) and a logistic output; the input scaling is folded into the hidden layer."""

    hidden_weights: Vector  # (FEATURES, HIDDEN)
    hidden_bias: Vector  # (HIDDEN,)
    output_weights: Vector  # (HIDDEN,)
    output_bias: float

    def probability(self, features: Vector) -> float:
        hidden = np.maximum(features @ self.hidden_weights + self.hidden_bias, 0.0)
        return float(1.0 / (1.0 + np.exp(-(float(hidden @ self.output_weights) + self.output_bias))))


WordSource = Callable[[str], WordVectors]


class _SharedMiniLM:
    """Word vectors from one process-wide MiniLM (the shipped model, one thread), the last texts' kept."""

    def __init__(self) -> None:
        self._model: Any = None
        self._lock = threading.Lock()

    def __call__(self, text: str) -> WordVectors:
        return self._cached(text)

    @lru_cache(maxsize=4096)  # noqa: B019 - one instance for the process
    def _cached(self, text: str) -> WordVectors:
        with self._lock:
            if self._model is None:
                from opsdesk.providers.embedding.local_minilm import LocalMiniLM

                self._model = LocalMiniLM(threads=1)
        _, words, vectors = self._model.embed_with_tokens(text)
        return WordVectors(tuple(words), vectors)


shipped_word_vectors: WordSource = _SharedMiniLM()
_PREPARE = ThreadPoolExecutor(1, thread_name_prefix="pair-verifier")


@dataclass(frozen=True)
class PairVerifier:
    """The model, the probability a pair must reach, and where the questions' word vectors come from (the shipped
    MiniLM, kept per text, unless given)."""

    model: PairModel
    threshold: float
    word_vectors: WordSource = field(default=shipped_word_vectors, compare=False, repr=False)

    def probability(
        self,
        question: str,
        vector: Sequence[float] | Vector,
        cached_question: str,
        cached_vector: Sequence[float] | Vector,
    ) -> float:
        """How likely the two questions ask the same thing."""
        features = pair_features(
            np.asarray(vector, dtype=np.float32),
            question,
            self.word_vectors(question),
            np.asarray(cached_vector, dtype=np.float32),
            cached_question,
            self.word_vectors(cached_question),
        )
        return self.model.probability(features)

    def accepts(
        self,
        question: str,
        vector: Sequence[float] | Vector,
        cached_question: str,
        cached_vector: Sequence[float] | Vector,
    ) -> bool:
        """Whether a cached answer to `cached_question` may answer `question` (never without the word vectors)."""
        try:
            return self.probability(question, vector, cached_question, cached_vector) >= self.threshold
        except ConfigurationError:  # no local MiniLM here: answer fresh
            return False

    async def prepare(self, *questions: str) -> None:
        """Computes (and keeps) the questions' word vectors off the event loop, so `accepts` finds them ready."""
        loop = asyncio.get_running_loop()
        for question in questions:
            await loop.run_in_executor(_PREPARE, self.word_vectors, question)


@lru_cache(maxsize=4)
def _model(path: Path) -> PairModel:
    with np.load(path, allow_pickle=False) as data:
        model = PairModel(
            np.asarray(data["hidden_weights"], dtype=np.float32),
            np.asarray(data["hidden_bias"], dtype=np.float32),
            np.asarray(data["output_weights"], dtype=np.float32),
            float(data["output_bias"]),
        )
    if model.hidden_weights.shape[0] != FEATURES:
        raise ValueError(f"{path}: {model.hidden_weights.shape[0]} inputs, the features are {FEATURES}")
    return model


def load_pair_verifier(threshold: float, path: Path = SHIPPED) -> PairVerifier:
    """The verifier whose weights are in `path` (the shipped file by default), accepting at `threshold`."""
    return PairVerifier(_model(path), threshold)


def training_record(path: Path = SHIPPED) -> dict[str, Any]:
    """What the weights were trained on and how they measured (written by bench/train_pair_verifier.py)."""
    with np.load(path, allow_pickle=False) as data:
        record: dict[str, Any] = json.loads(str(data["record"]))
    return record
