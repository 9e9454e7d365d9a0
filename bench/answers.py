"""Extractive knowledge answers on the order desk's demo knowledge base: ours beside a plain sentence picker.

    .venv/bin/python bench/answers.py [--data FILE.jsonl ...] [--generate] [--json]

Without `--data`, both question sets run: `tests/data/answer_questions.jsonl` (30 questions) and
`tests/data/answer_questions_conditions.jsonl` (55 questions whose answers carry conditions, written blind);
each is reported on its own.

Extractive answers are what customers get from a local setup whenever the local model is busy or writes something
the passages do not say. The three demo documents (`src/opsdesk/orders/data/kb/`) go through the real extraction
and chunking; both methods get the same four chunks per question (MiniLM cosine, as the semantic half of hybrid
retrieval does) and the same chunk-level floor (`answer_min_score`).

* baseline: the two sentences closest to the question, split at sentence punctuation and blank lines, as
  opsdesk did before: headings can be quoted, list items run together, nothing is ever declined.
* opsdesk: `knowledge.answers.extractive_answer` as shipped: list items apart, headings left out but used as each
  sentence's context, and "I don't know" when no sentence comes within `answer_min_sentence_score`.

A question with expected phrases is answered right when the answer contains one of them (`expect`) and all of its
conditions (`expect_all`); a question the documents do not answer (`"expect": null`) is right only when declined.

"unsupported" counts answers with a sentence that no cited passage supports, by a strict check of the bench's own
(not the product's): after lower-casing and dropping punctuation, every content word and number of the sentence
must appear in one cited chunk. The baseline cites nothing, so it is checked against the chunks it quotes from.

`--generate` also runs the local SmolLM2 through the real `Answerer` (the model writes a draft, the support check
keeps or replaces it) and reports how many drafts were kept and how many were replaced by the extractive answer.
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
from opsdesk.providers.llm.base import ChatProvider

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATA = [
    ROOT / "tests" / "data" / "answer_questions.jsonl",
    ROOT / "tests" / "data" / "answer_questions_conditions.jsonl",
]
KB_DIR = ROOT / "src" / "opsdesk" / "orders" / "data" / "kb"
_NAIVE_SPLIT = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"'(\[])|\n{2,}")
# The strict support check's own pieces: sentences, citation marks, words and numbers, and words that carry no
# content of their own.
# A sentence ends at its punctuation (and closing quote), a citation mark, or between two quotations.
_STRICT_SENTENCE = re.compile(r"\[\d{1,2}\]|(?<=[.!?])[\"']?\s+|\"\s+\"|\n")
_TOKEN = re.compile(r"\d+(?:[.,:]\d+)*|[a-z]+")
_FUNCTION_WORDS = frozenset(
    (  # noqa: SIM905
        "a an and are as at be been but by can could do does for from had has have if in into is it its may might "
        "must of on or our so than that the their them then there these they this to was we were which will with "
        "would you your"
    ).split()
)
console = Console(stderr=True, width=140)


def load_chunks() -> list[tuple[str, str, str]]:
    """(document title, section path, text) of every chunk of the demo knowledge base."""
    chunks: list[tuple[str, str, str]] = []
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


def grade(answer: str, expect: list[str] | None, expect_all: list[str] | None = None) -> str:
    declined = answer.startswith(DONT_KNOW)
    if expect is None:
        return "right" if declined else "wrong"
    if declined:
        return "declined"
    plain = " ".join(answer.replace("**", "").replace("`", "").lower().split())
    found_one = any(phrase.lower() in plain for phrase in expect)
    found_all = all(phrase.lower() in plain for phrase in expect_all or [])
    return "right" if found_one and found_all else "wrong"


def _tokens(text: str) -> list[str]:
    return _TOKEN.findall(text.lower().replace("\u2013", " ").replace("\u2014", " "))


def unsupported_sentences(answer: str, sources: list[str]) -> list[str]:
    """The sentences of an answer with a content word or number that no one source contains (strict, bench-only)."""
    if answer.startswith(DONT_KNOW) or not sources:
        return []
    vocabularies = [set(_tokens(source)) for source in sources]
    missing = []
    for sentence in _STRICT_SENTENCE.split(answer):
        words = {word for word in _tokens(sentence) if word not in _FUNCTION_WORDS}
        if words and not any(words <= vocabulary for vocabulary in vocabularies):
            missing.append(sentence.strip())
    return missing


def local_model(settings: Settings) -> ChatProvider:
    """The local SmolLM2 as `opsdesk up` runs it (one generation at a time; the bench asks one at a time)."""
    from opsdesk.providers.llm.llamacpp_chat import LlamaCppChat, default_local_model_path

    cfg = settings.chat_providers()["local"]
    path = settings.local_llm_path or default_local_model_path()
    return LlamaCppChat("local", cfg, path, n_threads=settings.local_llm_threads, n_ctx=settings.local_llm_context)


async def run(sets: dict[str, list[dict[str, Any]]], *, generate: bool = False) -> dict[str, Any]:
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    embedder = LocalMiniLM()
    chunks = load_chunks()
    console.print(f"{len(chunks)} chunks from {KB_DIR.relative_to(ROOT)} …")
    chunk_vectors = embedder.embed_array([text for _, _, text in chunks])
    answerers = {
        "opsdesk": Answerer(
            embedder, None, min_score=settings.answer_min_score, min_sentence_score=settings.answer_min_sentence_score
        )
    }
    model = local_model(settings) if generate else None
    if model is not None:
        answerers["generated"] = Answerer(
            embedder, model, min_score=settings.answer_min_score, min_sentence_score=settings.answer_min_sentence_score
        )
    results = {}
    try:
        for name, rows in sets.items():
            console.print(f"{name}: {len(rows)} questions …")
            results[name] = await _run_set(embedder, settings, chunks, chunk_vectors, answerers, rows)
    finally:
        if model is not None:
            await model.aclose()
    return {"sets": results}


async def _run_set(
    embedder: LocalMiniLM,
    settings: Settings,
    chunks: list[tuple[str, str, str]],
    chunk_vectors: np.ndarray,
    answerers: dict[str, Answerer],
    rows: list[dict[str, Any]],
) -> dict[str, Any]:
    results: dict[str, list[dict[str, Any]]] = {"baseline": [], **{method: [] for method in answerers}}
    for row in rows:
        question, expect, expect_all = str(row["question"]), row.get("expect"), row.get("expect_all")
        similarity = chunk_vectors @ embedder.embed_array([question])[0]
        hits = [
            Hit(uuid.uuid4(), uuid.uuid4(), uuid.uuid4(), chunks[i][0], "md", "demo", uuid.uuid4(), "1",
                chunks[i][1], None, int(i), chunks[i][2], float(similarity[i]), float(similarity[i]))
            for i in np.argsort(-similarity)[:CONTEXT_HITS]
        ]  # fmt: skip
        baseline = naive_answer(embedder, question, hits, settings.answer_min_score)
        answers: dict[str, tuple[str, list[str], str]] = {
            "baseline": (baseline, [hit.text for hit in hits], "extractive")
        }
        for method, answerer in answerers.items():
            answer = await answerer.answer(question, hits)
            cited = [hits[n - 1].text for n in answer.cited if 0 < n <= len(hits)]
            answers[method] = (answer.text, cited, answer.method)
        for method, (text, sources, how) in answers.items():
            results[method].append(
                {
                    "question": question,
                    "answer": text,
                    "outcome": grade(text, expect, expect_all),
                    "unsupported": unsupported_sentences(text, sources),
                    "method": how,
                }
            )
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
            "unsupported": sum(1 for item in graded if item["unsupported"]),
            "accuracy": round(outcomes.count("right") / len(rows), 3),
            "generated_kept": sum(1 for item in graded if item["method"] == "generative"),
            "answers": graded,
        }
    return summary


LABELS = {
    "baseline": "plain sentence picker",
    "opsdesk": "opsdesk extractive",
    "generated": "opsdesk with local SmolLM2",
}


def show(name: str, summary: dict[str, Any]) -> None:
    answerable, total = summary["answerable"], summary["questions"]
    table = Table(title=f"Answers on the demo knowledge base, {name}: {total} questions ({answerable} answerable)")
    table.add_column("method")
    columns = ("right", "answerable: right", "answerable: declined", "unanswerable: declined", "wrong", "unsupported")
    for column in columns:
        table.add_column(column, justify="right")
    for method, label in LABELS.items():
        if method not in summary:
            continue
        row = summary[method]
        table.add_row(
            label,
            f"{row['right']}/{total}",
            f"{row['answerable_right']}/{answerable}",
            str(row["answerable_declined"]),
            f"{row['unanswerable_declined']}/{total - answerable}",
            str(row["wrong"]),
            str(row["unsupported"]),
        )
    console.print(table)
    if "generated" in summary:
        generated = summary["generated"]
        asked = sum(1 for item in generated["answers"] if not item["answer"].startswith(DONT_KNOW))
        console.print(
            f"  local model: {generated['generated_kept']} drafts kept, the rest of {asked} answered questions "
            "replaced by the extractive answer (or declined)"
        )
    for method in ("opsdesk", "generated"):
        for item in summary.get(method, {}).get("answers", []):
            if item["outcome"] != "right" or item["unsupported"]:
                note = f" unsupported: {item['unsupported']!r}" if item["unsupported"] else ""
                console.print(
                    f"  {method} {item['outcome']}: {item['question']!r} -> {item['answer'][:200]!r}{note}",
                    markup=False,
                )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--data", type=Path, action="append", help="JSON lines of {question, expect, expect_all} (repeatable)"
    )
    parser.add_argument("--generate", action="store_true", help="also answer with the local SmolLM2")
    parser.add_argument("--json", action="store_true", help="print one JSON object as the last line")
    args = parser.parse_args()
    sets = {
        path.stem: [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
        for path in (args.data or DEFAULT_DATA)
    }
    summary = asyncio.run(run(sets, generate=args.generate))
    for name, result in summary["sets"].items():
        show(name, result)
    publish("answers", summary, as_json=args.json)


if __name__ == "__main__":
    main()
