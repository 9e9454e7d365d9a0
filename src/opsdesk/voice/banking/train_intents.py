"""`python -m opsdesk.voice.banking.train_intents`: trains the Banking77 classifier on the shipped training file with
the MiniLM of `intent_embedder()` and caches it where the voice desk loads it. The desk runs this in a child process
on its first start on a machine, so the gateway answers calls (keyword rules) meanwhile and can stop at any moment."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from opsdesk.providers.embedding.local_minilm import LocalMiniLM

# Names the cached classifier: vectors from the fused int8 MiniLM (was "minilm-int8", the int8-product file, whose
# vectors are at cosine 0.999 of these: a classifier trained on either reads the other's the same).
CLASSIFIER_EMBEDDER = "minilm-fused-int8"


# A run costs about 0.4 ms plus 0.12 ms per token: Banking77's utterances are 15 tokens on average and 47 at the
# 99th percentile (test set), so 64 tokens cut 5 of 3,080, while a long rambling turn costs at most 64 tokens' time.
MAX_TOKENS = 64


def intent_embedder() -> LocalMiniLM:
    """The MiniLM a caller's utterance is embedded with: the fused int8 file on one thread, cut at `MAX_TOKENS`. One
    short text per run gains nothing from a second thread, and on two cores shared with speech recognition a second
    thread waits for a core (docs/benchmarks.md, "Voice desk": 2.6 ms of CPU per utterance against 13.7)."""
    from opsdesk.providers.embedding.local_minilm import LocalMiniLM, fused_model_path

    return LocalMiniLM(threads=1, max_tokens=MAX_TOKENS, model_path=fused_model_path())


def classifier_path() -> Path:
    from opsdesk.voice.banking.intents import TRAINING_FILE, cached_path

    return cached_path(TRAINING_FILE, CLASSIFIER_EMBEDDER)


def train() -> Path:
    """Trains and caches the classifier (atomically); its path."""
    from opsdesk.voice.banking.intents import TRAINING_FILE, BankingIntentClassifier, load_examples

    path = classifier_path()
    embedder = intent_embedder()
    examples = load_examples(TRAINING_FILE)
    vectors = embedder.embed_array([example.text for example in examples])
    BankingIntentClassifier.train(examples, vectors).save(path)
    return path


if __name__ == "__main__":
    print(train())
    sys.exit(0)
