"""Intent routing on held-out customer messages: the offline classifier beside a nearest-example baseline.

    .venv/bin/python bench/intents.py [--data tests/data/intent_messages.jsonl] [--json]

The classifier is what the order desk runs without a hosted LLM: softmax regression on MiniLM embeddings trained
from `src/opsdesk/orders/data/intent_examples.jsonl`, plus its regex signals. The baseline answers with the intent of
the single most similar training example (same embeddings). No held-out message is a training example.

A routing error is the costly kind: a question or complaint sent into an order flow, or an order, change, status
or cancel request answered as something else.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from rich.console import Console
from rich.table import Table

from bench._results import publish
from bench._stats import percentile
from opsdesk.conversation.intents import (
    ALL_INTENTS,
    ORDER_INTENTS,
    PLANNER_INTENTS,
    IntentClassifier,
    combine,
    load_examples,
    signal_boosts,
)
from opsdesk.orders.chat.solution import INTENT_EXAMPLES
from opsdesk.providers.embedding.local_minilm import LocalMiniLM

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATA = ROOT / "tests" / "data" / "intent_messages.jsonl"
console = Console(stderr=True, width=140)
DESK_INTENTS = tuple(intent for intent in ALL_INTENTS if intent not in PLANNER_INTENTS)  # the planner has its own


def score(name: str, truth: list[str], predicted: list[str]) -> dict[str, Any]:
    per_intent = {}
    for intent in DESK_INTENTS:
        expected = [i for i, label in enumerate(truth) if label == intent]
        chosen = [i for i, label in enumerate(predicted) if label == intent]
        right = sum(1 for i in expected if predicted[i] == intent)
        recall = right / len(expected) if expected else 0.0
        precision = right / len(chosen) if chosen else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        per_intent[intent] = {"n": len(expected), "recall": round(recall, 3), "f1": round(f1, 3)}
    routing = sum(1 for t, p in zip(truth, predicted, strict=True) if (t in ORDER_INTENTS) != (p in ORDER_INTENTS))
    accuracy = sum(1 for t, p in zip(truth, predicted, strict=True) if t == p) / len(truth)
    return {
        "name": name,
        "accuracy": round(accuracy, 4),
        "macro_f1": round(statistics.fmean(row["f1"] for row in per_intent.values()), 4),
        "routing_errors": routing,
        "per_intent": per_intent,
        "confusions": Counter(f"{t} -> {p}" for t, p in zip(truth, predicted, strict=True) if t != p).most_common(8),
    }


def run(data: Path) -> dict[str, Any]:
    rows = [json.loads(line) for line in data.read_text(encoding="utf-8").splitlines() if line.strip()]
    texts, truth = [str(row["text"]) for row in rows], [str(row["intent"]) for row in rows]
    examples = load_examples(INTENT_EXAMPLES)
    known = {example.text.strip().lower() for example in examples}
    leaked = [text for text in texts if text.strip().lower() in known]
    if leaked:
        raise SystemExit(f"{len(leaked)} held-out messages are training examples, e.g. {leaked[0]!r}")
    embedder = LocalMiniLM()
    console.print(f"training on {len(examples)} examples, testing on {len(rows)} held-out messages …")
    train_vectors = embedder.embed_array([example.text for example in examples])
    classifier = IntentClassifier.train(examples, train_vectors)
    ours: list[str] = []
    times_ms: list[float] = []
    for text in texts:
        started = time.perf_counter()
        vector = embedder.embed_array([text])[0]
        ours.append(combine(classifier.probabilities(vector), signal_boosts(text)).intent)
        times_ms.append((time.perf_counter() - started) * 1000)
    test_vectors = embedder.embed_array(texts)
    nearest = np.argmax(test_vectors @ train_vectors.T, axis=1)
    baseline = [examples[int(i)].intent for i in nearest]
    return {
        "messages": len(rows),
        "training_examples": len(examples),
        "ours": score("opsdesk classifier (+ signals)", truth, ours),
        "baseline": score("nearest example", truth, baseline),
        "p50_ms": round(statistics.median(times_ms), 2),
        "p95_ms": round(percentile(times_ms, 0.95), 2),
        "misrouted": [
            {"text": text, "intent": t, "predicted": p}
            for text, t, p in zip(texts, truth, ours, strict=True)
            if (t in ORDER_INTENTS) != (p in ORDER_INTENTS)
        ],
    }


def show(results: dict[str, Any]) -> None:
    ours, baseline = results["ours"], results["baseline"]
    table = Table(
        title=f"Intent routing: {results['messages']} held-out messages, "
        f"{results['training_examples']} training examples"
    )
    table.add_column("intent")
    table.add_column("n", justify="right")
    for system in (ours, baseline):
        table.add_column(f"{system['name']} recall", justify="right")
        table.add_column("F1", justify="right")
    for intent in DESK_INTENTS:
        table.add_row(
            intent,
            str(ours["per_intent"][intent]["n"]),
            f"{ours['per_intent'][intent]['recall']:.2f}",
            f"{ours['per_intent'][intent]['f1']:.2f}",
            f"{baseline['per_intent'][intent]['recall']:.2f}",
            f"{baseline['per_intent'][intent]['f1']:.2f}",
        )
    for label, key in (("accuracy", "accuracy"), ("macro F1", "macro_f1")):
        table.add_row(label, "", f"{ours[key]:.3f}", "", f"{baseline[key]:.3f}", "", style="bold")
    table.add_row("routing errors", "", str(ours["routing_errors"]), "", str(baseline["routing_errors"]), "")
    console.print(table)
    console.print(
        f"classifying one message (embedding included): p50 {results['p50_ms']} ms, p95 {results['p95_ms']} ms"
    )
    console.print("most frequent confusions (ours): " + "; ".join(f"{c} (x{n})" for c, n in ours["confusions"]))
    for row in results["misrouted"]:
        console.print(f"  misrouted: {row['text']!r}: {row['intent']} read as {row['predicted']}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="JSON lines of {text, intent}")
    parser.add_argument("--json", action="store_true", help="print one JSON object as the last line")
    args = parser.parse_args()
    results = run(args.data)
    show(results)
    publish("intents", results, as_json=args.json)


if __name__ == "__main__":
    main()
