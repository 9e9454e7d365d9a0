"""`python -m opsdesk.voice.banking.train_intents`: trains the Banking77 classifier on the shipped training file with
the int8 MiniLM and caches it where the voice desk loads it. The desk runs this in a child process on its first
start on a machine, so the gateway answers calls (keyword rules) meanwhile and can stop at any moment."""

from __future__ import annotations

import sys
from pathlib import Path

CLASSIFIER_EMBEDDER = "minilm-int8"  # names the cached classifier: vectors from the int8-product MiniLM


def classifier_path() -> Path:
    from opsdesk.voice.banking.intents import TRAINING_FILE, cached_path

    return cached_path(TRAINING_FILE, CLASSIFIER_EMBEDDER)


def train() -> Path:
    """Trains and caches the classifier (atomically); its path."""
    from opsdesk.providers.embedding.local_minilm import LocalMiniLM, bulk_model_path
    from opsdesk.voice.banking.intents import TRAINING_FILE, BankingIntentClassifier, load_examples

    path = classifier_path()
    embedder = LocalMiniLM(threads=1, model_path=bulk_model_path())
    examples = load_examples(TRAINING_FILE)
    vectors = embedder.embed_array([example.text for example in examples])
    BankingIntentClassifier.train(examples, vectors).save(path)
    return path


if __name__ == "__main__":
    print(train())
    sys.exit(0)
