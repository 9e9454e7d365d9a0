"""A learned check that two questions ask the same thing, from their MiniLM vectors and a few word counts.

MiniLM puts many different questions close together ("Who won the Super Bowl in 2009?" / "… in 2014?", "the best
way to make money online" / "the hardest way …"). The verifier is a logistic regression over the elementwise product
and absolute difference of the two unit vectors, their cosine, and cheap lexical overlaps (word, content-word,
bigram and character-trigram Jaccard, words found on one side only, question word, negation, capitalised names).
It was trained on one half of the QQP pairs in ../shared/data/gptcache and measured on the other
(`bench/train_pair_verifier.py`, which writes `data/pair_verifier.npz` and records the data's hash, the split and
the held-out figures). The number and calendar agreement check stays a hard rule in `semantic.choose`, so the
verifier only sees, and was only trained on, pairs that agree.

One score costs two 384-element products and a few set operations on the two questions' words: tens of
microseconds, once per lookup (only the best candidate is verified).
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from itertools import pairwise
from pathlib import Path
from typing import Any

import numpy as np

Vector = np.ndarray[Any, np.dtype[np.float32]]

SHIPPED = Path(__file__).resolve().parent / "data" / "pair_verifier.npz"
DIM = 384
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
FEATURES = 2 * DIM + 1 + len(LEXICAL)  # product, |difference|, cosine, lexical

_WORD = re.compile(r"[a-z0-9]+")
_NAME = re.compile(r"[A-Za-z][\w']*")
_SPACE = re.compile(r"\s+")
_STOP = frozenset(
    [
        "a",
        "an",
        "the",
        "is",
        "are",
        "was",
        "were",
        "be",
        "been",
        "being",
        "do",
        "does",
        "did",
        "to",
        "of",
        "in",
        "on",
        "at",
        "for",
        "with",
        "by",
        "from",
        "and",
        "or",
        "but",
        "if",
        "then",
        "so",
        "as",
        "it",
        "its",
        "this",
        "that",
        "these",
        "those",
        "i",
        "you",
        "he",
        "she",
        "we",
        "they",
        "me",
        "my",
        "your",
        "our",
        "their",
        "his",
        "her",
        "what",
        "which",
        "who",
        "whom",
        "whose",
        "how",
        "why",
        "when",
        "where",
        "can",
        "could",
        "would",
        "should",
        "will",
        "shall",
        "may",
        "might",
        "must",
        "have",
        "has",
        "had",
        "not",
        "no",
        "any",
        "some",
        "there",
        "here",
        "about",
        "into",
        "than",
        "too",
        "very",
        "just",
        "also",
        "more",
        "most",
        "much",
        "many",
        "such",
        "own",
        "same",
        "other",
        "only",
        "one",
        "someone",
    ]
)
_QUESTION_WORDS = frozenset(
    [
        "what",
        "which",
        "who",
        "whom",
        "whose",
        "how",
        "why",
        "when",
        "where",
        "is",
        "are",
        "can",
        "do",
        "does",
        "should",
        "will",
    ]
)
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


def pair_features(vector: Vector, question: str, other_vector: Vector, other: str) -> Vector:
    """The verifier's input for one pair of unit vectors and their questions."""
    product = vector * other_vector
    features = np.empty(FEATURES, dtype=np.float32)
    features[:DIM] = product
    features[DIM : 2 * DIM] = np.abs(vector - other_vector)
    features[2 * DIM] = product.sum()
    features[2 * DIM + 1 :] = lexical_features(question, other)
    return features


@dataclass(frozen=True)
class PairVerifier:
    """Logistic regression weights (input scaling folded in) and the probability a pair must reach."""

    weights: Vector
    bias: float
    threshold: float

    def probability(
        self,
        question: str,
        vector: Sequence[float] | Vector,
        cached_question: str,
        cached_vector: Sequence[float] | Vector,
    ) -> float:
        """How likely the two questions ask the same thing."""
        features = pair_features(
            np.asarray(vector, dtype=np.float32), question, np.asarray(cached_vector, dtype=np.float32), cached_question
        )
        return float(1.0 / (1.0 + np.exp(-(float(features @ self.weights) + self.bias))))

    def accepts(
        self,
        question: str,
        vector: Sequence[float] | Vector,
        cached_question: str,
        cached_vector: Sequence[float] | Vector,
    ) -> bool:
        """Whether a cached answer to `cached_question` may answer `question`."""
        return self.probability(question, vector, cached_question, cached_vector) >= self.threshold


@lru_cache(maxsize=4)
def _weights(path: Path) -> tuple[Vector, float]:
    with np.load(path, allow_pickle=False) as data:
        weights = np.asarray(data["weights"], dtype=np.float32)
        bias = float(data["bias"])
    if weights.shape != (FEATURES,):
        raise ValueError(f"{path}: {weights.shape[0]} weights, the features are {FEATURES}")
    return weights, bias


def load_pair_verifier(threshold: float, path: Path = SHIPPED) -> PairVerifier:
    """The verifier whose weights are in `path` (the shipped file by default), accepting at `threshold`."""
    weights, bias = _weights(path)
    return PairVerifier(weights, bias, threshold)


def training_record(path: Path = SHIPPED) -> dict[str, Any]:
    """What the weights were trained on and how they measured (written by bench/train_pair_verifier.py)."""
    with np.load(path, allow_pickle=False) as data:
        record: dict[str, Any] = json.loads(str(data["record"]))
    return record
