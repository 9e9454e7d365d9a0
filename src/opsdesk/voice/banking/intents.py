"""What a bank's caller wants, as one of Banking77's 77 intents, offline.

The classifier is multinomial logistic regression over two views of the words: the MiniLM sentence embedding
(meaning: "my card never came" is near "card not arrived") and TF-IDF of the words and word pairs (exact terms the
embedding blurs: "top up" vs "transfer", "PIN" vs "passcode"). It trains in seconds with scipy's L-BFGS on the
training file shipped with opsdesk, `data/banking77_train.csv` — Banking77's training set (PolyAI, CC BY 4.0, see
`data/BANKING77.md`) — and is cached in the user cache, named by the file's hash, the recipe and the embedder, so
only the first start of a process on a machine pays the training (mostly the 10,003 embeddings).

Measured by `bench/banking_intents.py` on the 3,080 test utterances (docs/benchmarks.md, "Voice desk").
"""

from __future__ import annotations

import asyncio
import csv
import hashlib
import math
import os
import re
import tempfile
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path
from typing import Any

import numpy as np
from scipy import optimize, sparse

from opsdesk.conversation.intents import LabeledExample
from opsdesk.core.logging import get_logger
from opsdesk.providers.embedding.int8_model import cache_dir

_log = get_logger(__name__)

TRAINING_FILE = Path(__file__).resolve().parent.parent / "data" / "banking77_train.csv"
RECIPE = "lr-minilm2+tfidf12-c10-v1"
# The embedding's columns count twice against the TF-IDF's: with 10 examples per intent, accuracy 85.8 % instead of
# 84.4 % (three draws); with the full set 93.8 % instead of 94.2 %.
EMBEDDING_SCALE = 2.0
Matrix = np.ndarray[Any, np.dtype[np.float32]]
Embed = Callable[[list[str]], Awaitable[list[list[float]]]]  # an embedding provider's `embed`
_TOKEN = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")


@dataclass(frozen=True)
class IntentScore:
    """The most likely intent, its probability, and the runners-up (for a confirmation question)."""

    intent: str
    confidence: float
    alternatives: tuple[tuple[str, float], ...]


def load_examples(path: Path = TRAINING_FILE) -> list[LabeledExample]:
    """Labeled utterances from a CSV with `text` and `category` columns (Banking77's layout)."""
    with path.open(encoding="utf-8", newline="") as handle:
        rows = [LabeledExample(row["text"].strip(), row["category"].strip()) for row in csv.DictReader(handle)]
    return [row for row in rows if row.text and row.intent]


def terms(text: str) -> list[str]:
    """Lower-cased words and adjacent word pairs."""
    words = _TOKEN.findall(text.lower())
    return words + [f"{a} {b}" for a, b in pairwise(words)]


class TermWeights:
    """TF-IDF over words and word pairs: sublinear counts, smoothed inverse document frequency, unit rows."""

    def __init__(self, vocabulary: Sequence[str], idf: np.ndarray[Any, np.dtype[np.float64]]) -> None:
        self.vocabulary = list(vocabulary)
        self.index = {term: i for i, term in enumerate(self.vocabulary)}
        self.idf = idf

    @classmethod
    def fit(cls, texts: Sequence[str]) -> TermWeights:
        documents = Counter(term for text in texts for term in set(terms(text)))
        vocabulary = sorted(documents)
        counts = np.array([documents[term] for term in vocabulary], dtype=np.float64)
        return cls(vocabulary, np.log((1 + len(texts)) / (1 + counts)) + 1.0)

    def transform(self, texts: Sequence[str]) -> sparse.csr_matrix:
        rows, columns, values = [], [], []
        for row, text in enumerate(texts):
            found, weights = self.weigh(text)
            rows.extend([row] * len(found))
            columns.extend(found)
            values.extend(weights)
        return sparse.csr_matrix((values, (rows, columns)), shape=(len(texts), len(self.vocabulary)))

    def weigh(self, text: str) -> tuple[list[int], list[float]]:
        """The text's row of `transform`, as the columns of its known terms and their weights."""
        counts = Counter(i for i in (self.index.get(term) for term in terms(text)) if i is not None)
        weights = [(1.0 + math.log(n)) * float(self.idf[i]) for i, n in counts.items()]
        norm = math.sqrt(sum(w * w for w in weights)) or 1.0
        return list(counts), [w / norm for w in weights]


class BankingIntentClassifier:
    """Softmax regression on [sentence embedding | TF-IDF of words and pairs]."""

    def __init__(
        self,
        labels: Sequence[str],
        term_weights: TermWeights,
        weights: np.ndarray[Any, np.dtype[np.float64]],
        bias: np.ndarray[Any, np.dtype[np.float64]],
        version: str,
    ) -> None:
        self.labels = tuple(labels)
        self.term_weights = term_weights
        self.weights = weights
        self.bias = bias
        self.version = version

    @classmethod
    def train(
        cls,
        examples: Sequence[LabeledExample],
        vectors: Matrix,
        *,
        c: float = 10.0,
        max_iterations: int = 500,
        version: str = RECIPE,
    ) -> BankingIntentClassifier:
        """Fits the weights (L2 penalty 1/(2c) on the weights, none on the bias) with L-BFGS."""
        labels = sorted({example.intent for example in examples})
        index = {label: i for i, label in enumerate(labels)}
        target = np.array([index[example.intent] for example in examples])
        term_weights = TermWeights.fit([example.text for example in examples])
        features = _features(vectors, term_weights.transform([example.text for example in examples]))
        n, dims, k = features.shape[0], features.shape[1], len(labels)
        onehot = np.zeros((n, k))
        onehot[np.arange(n), target] = 1.0

        def loss(flat: np.ndarray[Any, np.dtype[np.float64]]) -> tuple[float, np.ndarray[Any, np.dtype[np.float64]]]:
            weights, bias = flat[: dims * k].reshape(dims, k), flat[dims * k :]
            logits = features @ weights + bias
            logits -= logits.max(axis=1, keepdims=True)
            log_norm = np.log(np.exp(logits).sum(axis=1, keepdims=True))
            probabilities = np.exp(logits - log_norm)
            value = -float(((logits - log_norm) * onehot).sum()) + float((weights * weights).sum()) / (2 * c)
            error = probabilities - onehot
            gradient = np.concatenate([(features.T @ error + weights / c).ravel(), error.sum(axis=0)])
            return value, gradient

        result = optimize.minimize(
            loss, np.zeros(dims * k + k), jac=True, method="L-BFGS-B", options={"maxiter": max_iterations}
        )
        weights, bias = result.x[: dims * k].reshape(dims, k), result.x[dims * k :]
        return cls(labels, term_weights, weights, bias, version)

    def probabilities(self, vectors: Matrix, texts: Sequence[str]) -> np.ndarray[Any, np.dtype[np.float64]]:
        """One row of intent probabilities (in `labels` order) per text, from its embedding and its words."""
        dense = np.asarray(vectors, dtype=np.float64).reshape(len(texts), -1)
        split = dense.shape[1]  # the same product as over the stacked features, without building them
        logits = EMBEDDING_SCALE * dense @ self.weights[:split] + self.bias
        logits += self.term_weights.transform(texts) @ self.weights[split:]
        logits -= np.max(logits, axis=1, keepdims=True)
        exp = np.exp(logits)
        result: np.ndarray[Any, np.dtype[np.float64]] = exp / exp.sum(axis=1, keepdims=True)
        return result

    def classify(self, vector: Matrix, text: str, *, alternatives: int = 2) -> IntentScore:
        """The intent of one utterance."""
        # `probabilities` for one text without building a one-row sparse matrix, which took two thirds of the
        # classifier's time: the weight rows of the text's few terms, summed.
        dense = np.asarray(vector, dtype=np.float64).reshape(-1)
        split = dense.shape[0]
        logits = EMBEDDING_SCALE * dense @ self.weights[:split] + self.bias
        columns, values = self.term_weights.weigh(text)
        if columns:
            logits += np.asarray(values) @ self.weights[split + np.asarray(columns)]
        exp = np.exp(logits - logits.max())
        row = exp / exp.sum()
        order = np.argsort(row)[::-1]
        best = int(order[0])
        others = tuple((self.labels[int(i)], float(row[int(i)])) for i in order[1 : 1 + alternatives])
        return IntentScore(self.labels[best], float(row[best]), others)

    def save(self, path: Path) -> None:
        """Writes the classifier as a compressed numpy archive (atomically)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path.parent, suffix=".npz", delete=False) as handle:
            np.savez_compressed(
                handle,
                labels=np.array(self.labels),
                vocabulary=np.array(self.term_weights.vocabulary),
                idf=self.term_weights.idf,
                weights=self.weights.astype(np.float32),
                bias=self.bias,
                version=np.array(self.version),
            )
        os.replace(handle.name, path)

    @classmethod
    def load(cls, path: Path) -> BankingIntentClassifier:
        with np.load(path, allow_pickle=False) as data:
            terms_ = TermWeights([str(term) for term in data["vocabulary"]], data["idf"])
            labels = [str(label) for label in data["labels"]]
            return cls(labels, terms_, data["weights"].astype(np.float64), data["bias"], str(data["version"]))


def _features(vectors: Matrix, term_matrix: sparse.csr_matrix) -> sparse.csr_matrix:
    dense = EMBEDDING_SCALE * np.asarray(vectors, dtype=np.float64)
    return sparse.hstack([sparse.csr_matrix(dense), term_matrix]).tocsr()


def cached_path(training_file: Path, embedder: str, directory: Path | None = None) -> Path:
    """Where the classifier trained from `training_file` with `embedder` is kept."""
    digest = hashlib.sha256(training_file.read_bytes() + f"{RECIPE}/{embedder}".encode()).hexdigest()[:16]
    return (directory or cache_dir()) / f"banking-intents-{digest}.npz"


_loaded: dict[Path, BankingIntentClassifier] = {}
_lock = asyncio.Lock()


async def banking_classifier(
    embed: Embed, *, embedder: str, training_file: Path = TRAINING_FILE, directory: Path | None = None
) -> BankingIntentClassifier:
    """The classifier of the training file: from this process, the cache, or trained now (and cached)."""
    path = await asyncio.to_thread(cached_path, training_file, embedder, directory)
    async with _lock:
        found = _loaded.get(path)
        if found is None and path.is_file():
            found = await asyncio.to_thread(BankingIntentClassifier.load, path)
        if found is None:
            examples = await asyncio.to_thread(load_examples, training_file)
            vectors = np.asarray(await embed([example.text for example in examples]), dtype=np.float32)
            found = await asyncio.to_thread(BankingIntentClassifier.train, examples, vectors)
            await asyncio.to_thread(found.save, path)
            _log.info("banking_intents_trained", examples=len(examples), path=str(path))
        _loaded[path] = found
    return found
