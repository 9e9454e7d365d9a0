"""Extractive knowledge answers on the order desk's demo knowledge base: ours beside a plain sentence picker.

    .venv/bin/python bench/answers.py [--data tests/data/answer_questions.jsonl] [--json]

Extractive answers are what customers get from a local setup whenever the local model is busy or writes something
the passages do not say. The three demo documents (`src/opsdesk/orders/data/kb/`) go through the real extraction
and chunking; both methods get the same four chunks per question (MiniLM cosine, as the semantic half of hybrid
retrieval does) and the same chunk-level floor (`answer_min_score`).

* baseline: the two sentences closest to the question, split at sentence punctuation and blank lines, as
  opsdesk did before: headings can be quoted, list items run together, nothing is ever declined.
* opsdesk: `knowledge.answers.extractive_answer` as shipped: list items apart, headings left out but used as each
  sentence's context, and "I don't know" when no sentence comes within `answer_min_sentence_score`.

A question with expected phrases is answered right when the answer contains one of them; a question the documents
do not answer (`"expect": null`) is right only when declined.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import sys
import uuid
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from rich.console import Console
from rich.table import Table

from bench._results import publish
from opsdesk.core.settings import Settings
from opsdesk.knowledge.answers import CONTEXT_HITS, DONT_KNOW, Answerer
from opsdesk.knowledge.chunking import chunk_document
from opsdesk.knowledge.extraction import extract
from opsdesk.knowledge.retrieval import Hit
from opsdesk.providers.embedding.local_minilm import LocalMiniLM

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATA = ROOT / "tests" / "data" / "answer_questions.jsonl"
KB_DIR = ROOT / "src" / "opsdesk" / "orders" / "data" / "kb"
_NAIVE_SPLIT = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"'(\[])|\n{2,}")
console = Console(stderr=True, width=140)


def load_chunks() -> list[tuple[str, str, str]]:
    """(document title, section path, text) of every chunk of the demo knowledge base."""
    chunks = []
    for path in sorted(KB_DIR.glob("*.md")):
        document = extract(path.read_bytes(), path.name, "text/markdown")
        chunks.extend((document.title, chunk.section_path, chunk.text) for chunk in chunk_document(document))
    return chunks


def naive_answer(embedder: LocalMiniLM, question: str, hits: list[Hit], min_score: float) -> str:
    """The pre-change picker: the closest two sentences of the top chunks, never declining above the chunk floor."""
    if not hits or max(hit.similarity or 0.0 for hit in hits) < min_score:
        return DONT_KNOW
    sentences = [
        " ".join(part.split())
        for hit in hits[:CONTEXT_HITS]
        for part in _NAIVE_SPLIT.split(hit.text)
        if len(" ".join(part.split())) >= 12
    ]
    vectors = embedder.embed_array([question, *sentences])
    best = np.argsort(-(vectors[1:] @ vectors[0]))[:2]
    return " ".join(f'"{sentences[int(i)]}"' for i in sorted(best))


def grade(answer: str, expect: list[str] | None) -> str:
    declined = answer.startswith(DONT_KNOW)
    if expect is None:
        return "right" if declined else "wrong"
    if declined:
        return "declined"
    plain = answer.replace("**", "").lower()
    return "right" if any(phrase.lower() in plain for phrase in expect) else "wrong"


async def run(rows: list[dict[str, Any]]) -> dict[str, Any]:
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    embedder = LocalMiniLM()
    chunks = load_chunks()
    console.print(f"{len(chunks)} chunks from {KB_DIR.relative_to(ROOT)}, {len(rows)} questions …")
    chunk_vectors = embedder.embed_array([text for _, _, text in chunks])
    answerer = Answerer(
        embedder,
        None,
        min_score=settings.answer_min_score,
        min_sentence_score=settings.answer_min_sentence_score,
    )
    results: dict[str, list[dict[str, Any]]] = {"baseline": [], "opsdesk": []}
    for row in rows:
        question, expect = str(row["question"]), row.get("expect")
        similarity = chunk_vectors @ embedder.embed_array([question])[0]
        hits = [
            Hit(uuid.uuid4(), uuid.uuid4(), uuid.uuid4(), chunks[i][0], "md", "demo", uuid.uuid4(), "1",
                chunks[i][1], None, int(i), chunks[i][2], float(similarity[i]), float(similarity[i]))
            for i in np.argsort(-similarity)[:CONTEXT_HITS]
        ]  # fmt: skip
        answers = {
            "baseline": naive_answer(embedder, question, hits, settings.answer_min_score),
            "opsdesk": (await answerer.answer(question, hits)).text,
        }
        for method, text in answers.items():
            results[method].append({"question": question, "answer": text, "outcome": grade(text, expect)})
    answerable = sum(1 for row in rows if row.get("expect") is not None)
    summary: dict[str, Any] = {"questions": len(rows), "answerable": answerable}
    for method, graded in results.items():
        outcomes = [item["outcome"] for item in graded]
        asked = outcomes[:]
        summary[method] = {
            "right": outcomes.count("right"),
            "answerable_right": sum(
                1
                for row, outcome in zip(rows, asked, strict=True)
                if row.get("expect") is not None and outcome == "right"
            ),
            "answerable_declined": outcomes.count("declined"),
            "unanswerable_declined": sum(
                1 for row, outcome in zip(rows, asked, strict=True) if row.get("expect") is None and outcome == "right"
            ),
            "wrong": outcomes.count("wrong"),
            "accuracy": round(outcomes.count("right") / len(rows), 3),
            "answers": graded,
        }
    return summary


def show(summary: dict[str, Any]) -> None:
    answerable, total = summary["answerable"], summary["questions"]
    table = Table(title=f"Extractive answers on the demo knowledge base: {total} questions ({answerable} answerable)")
    table.add_column("method")
    for column in ("right", "answerable: right", "answerable: declined", "unanswerable: declined", "wrong"):
        table.add_column(column, justify="right")
    for method, label in (("baseline", "plain sentence picker"), ("opsdesk", "opsdesk extractive")):
        row = summary[method]
        table.add_row(
            label,
            f"{row['right']}/{total}",
            f"{row['answerable_right']}/{answerable}",
            str(row["answerable_declined"]),
            f"{row['unanswerable_declined']}/{total - answerable}",
            str(row["wrong"]),
        )
    console.print(table)
    for item in summary["opsdesk"]["answers"]:
        if item["outcome"] != "right":
            console.print(
                f"  opsdesk {item['outcome']}: {item['question']!r} -> {item['answer'][:150]!r}", markup=False
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="JSON lines of {question, expect}")
    parser.add_argument("--json", action="store_true", help="print one JSON object as the last line")
    args = parser.parse_args()
    rows = [json.loads(line) for line in args.data.read_text(encoding="utf-8").splitlines() if line.strip()]
    summary = asyncio.run(run(rows))
    show(summary)
    publish("answers", summary, as_json=args.json)


if __name__ == "__main__":
    main()
