"""Extractive knowledge answers on the order desk's demo knowledge base: ours beside a plain sentence picker.

    .venv/bin/python bench/answers.py [--data FILE.jsonl ...] [--generate] [--json]

Without `--data`, the six question sets run: `tests/data/answer_questions.jsonl` (30 questions),
`tests/data/answer_questions_conditions.jsonl` (55 questions whose answers carry conditions, written blind),
`tests/data/answer_questions_conditions_2.jsonl`, `…_3.jsonl`, `…_4.jsonl` and `…_5.jsonl` (40 more each, each
written blind before the next answering change); each is reported on its own.

Extractive answers are what customers get from a local setup whenever the local model is busy or writes something
the passages do not say. Each question is answered from two rankings in the same run:

* semantic top 4 (the old bench ranking): the four demo documents (`src/opsdesk/orders/data/kb/`) through the real
  extraction and chunking, the four chunks closest by MiniLM cosine alone;
* the chat's hybrid retrieval (what the order desk chat does): the same documents ingested into an embedded
  PostgreSQL through the real pipeline (`orders.demo.load_order_demo`, the ingestion worker) and searched by
  `conversation.answering.retrieve`: BM25 + MiniLM fused by RRF, the chat's top-k, shorthand spelled out.

* baseline: the two sentences closest to the question, split at sentence punctuation and blank lines, as
  opsdesk did before: headings can be quoted, list items run together, nothing is ever declined.
* opsdesk: `knowledge.query.answers.extractive_answer` as shipped: list items apart, headings left out but used as each
  sentence's context, units scored by MiniLM with the question's rarer words and the bounds its quantities fall in
  (`knowledge.query.matching`), conditions brought along, and "I don't know" when no sentence comes within
  `answer_min_sentence_score`.

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
import tempfile
import uuid
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pydantic import SecretStr
from rich.console import Console
from rich.table import Table

from bench._results import publish
from opsdesk.app.context import AppContext
from opsdesk.auth import service as auth
from opsdesk.conversation.answering import KnowledgeTarget, retrieve
from opsdesk.core.settings import Settings
from opsdesk.db.embedded import EmbeddedPostgres
from opsdesk.knowledge.chunking import chunk_document
from opsdesk.knowledge.extraction import extract
from opsdesk.knowledge.ingest.worker import run_pending_jobs
from opsdesk.knowledge.query.answers import DONT_KNOW, Answerer
from opsdesk.knowledge.query.retrieval import Hit
from opsdesk.knowledge.service import get_kb
from opsdesk.orders.demo import KB_NAME, load_order_demo
from opsdesk.providers.embedding.local_minilm import LocalMiniLM
from opsdesk.providers.llm.base import ChatProvider

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATA = [
    ROOT / "tests" / "data" / "answer_questions.jsonl",
    ROOT / "tests" / "data" / "answer_questions_conditions.jsonl",
    ROOT / "tests" / "data" / "answer_questions_conditions_2.jsonl",
    ROOT / "tests" / "data" / "answer_questions_conditions_3.jsonl",
    ROOT / "tests" / "data" / "answer_questions_conditions_4.jsonl",
    ROOT / "tests" / "data" / "answer_questions_conditions_5.jsonl",
]
KB_DIR = ROOT / "src" / "opsdesk" / "orders" / "data" / "kb"
OLD_TOP = 4  # chunks per question of the old bench ranking (MiniLM cosine alone), and of the plain picker
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
        for hit in hits[:OLD_TOP]
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


class ProductRetrieval:
    """The order desk chat's own retrieval: the demo documents ingested into an embedded PostgreSQL through the real
    pipeline, searched by `conversation.answering.retrieve` (hybrid BM25 + MiniLM, RRF, the chat's top-k)."""

    def __init__(self, root: Path) -> None:
        self.server = EmbeddedPostgres(root, cleanup_mode="delete")
        self.root = root
        self.ctx: AppContext | None = None
        self.target = KnowledgeTarget()

    async def __aenter__(self) -> ProductRetrieval:
        await asyncio.to_thread(self.server.start)
        settings = Settings(
            _env_file=None,  # type: ignore[call-arg]
            env="test",
            data_dir=self.root,
            database_url=SecretStr(self.server.url("asyncpg")),
            local_llm_enabled=False,
            log_level="WARNING",
        )
        self.ctx = await AppContext.open(settings)
        async with self.ctx.db.session() as session:
            workspace = await auth.get_or_create_workspace(session, "bench-answers")
        await load_order_demo(self.ctx, workspace.id)
        await run_pending_jobs(self.ctx)
        async with self.ctx.db.session() as session:
            self.target = KnowledgeTarget((await get_kb(session, workspace.id, KB_NAME),))
        return self

    async def __aexit__(self, *_: object) -> None:
        if self.ctx is not None:
            await self.ctx.close()
        await asyncio.to_thread(self.server.stop)

    async def hits(self, question: str, vector: list[float]) -> list[Hit]:
        assert self.ctx is not None
        return await retrieve(self.ctx, self.target, question, vector)


async def run(sets: dict[str, list[dict[str, Any]]], *, generate: bool = False) -> dict[str, Any]:
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    embedder = LocalMiniLM()
    chunks = load_chunks()
    console.print(f"{len(chunks)} chunks from {KB_DIR.relative_to(ROOT)} …")
    chunk_vectors = embedder.embed_array([text for _, _, text in chunks])
    answerer = Answerer(
        embedder, None, min_score=settings.answer_min_score, min_sentence_score=settings.answer_min_sentence_score
    )
    model = local_model(settings) if generate else None
    generated = (
        Answerer(
            embedder, model, min_score=settings.answer_min_score, min_sentence_score=settings.answer_min_sentence_score
        )
        if model is not None
        else None
    )
    results = {}
    try:
        with tempfile.TemporaryDirectory(prefix="opsdesk-bench-answers-") as tmp:
            async with ProductRetrieval(Path(tmp)) as product:
                for name, rows in sets.items():
                    console.print(f"{name}: {len(rows)} questions …")
                    runner = _SetRunner(embedder, settings, chunks, chunk_vectors, product, answerer, generated)
                    results[name] = await runner.run(rows)
    finally:
        if model is not None:
            await model.aclose()
    return {"sets": results}


class _SetRunner:
    def __init__(
        self,
        embedder: LocalMiniLM,
        settings: Settings,
        chunks: list[tuple[str, str, str]],
        chunk_vectors: np.ndarray,
        product: ProductRetrieval,
        answerer: Answerer,
        generated: Answerer | None,
    ) -> None:
        self.embedder, self.settings, self.chunks, self.chunk_vectors = embedder, settings, chunks, chunk_vectors
        self.product, self.answerer, self.generated = product, answerer, generated

    def semantic_hits(self, vector: np.ndarray) -> list[Hit]:
        """The old bench ranking: the top chunks by MiniLM cosine alone."""
        similarity = self.chunk_vectors @ vector
        chunks = self.chunks
        return [
            Hit(uuid.uuid4(), uuid.uuid4(), uuid.uuid4(), chunks[i][0], "md", "demo", uuid.uuid4(), "1",
                chunks[i][1], None, int(i), chunks[i][2], float(similarity[i]), float(similarity[i]))
            for i in np.argsort(-similarity)[:OLD_TOP]
        ]  # fmt: skip

    async def answers(self, question: str) -> dict[str, tuple[str, list[str], str]]:
        vector = self.embedder.embed_array([question])[0]
        rankings = {
            "semantic": self.semantic_hits(vector),
            "product": await self.product.hits(question, [float(x) for x in vector]),
        }
        found: dict[str, tuple[str, list[str], str]] = {}
        for ranking, hits in rankings.items():
            suffix = "" if ranking == "semantic" else "_product"
            baseline = naive_answer(self.embedder, question, hits, self.settings.answer_min_score)
            found["baseline" + suffix] = (baseline, [hit.text for hit in hits[:OLD_TOP]], "extractive")
            answer = await self.answerer.answer(question, hits)
            found["opsdesk" + suffix] = (answer.text, _cited(answer.cited, hits), answer.method)
        if self.generated is not None:
            answer = await self.generated.answer(question, rankings["product"])
            found["generated"] = (answer.text, _cited(answer.cited, rankings["product"]), answer.method)
        return found

    async def run(self, rows: list[dict[str, Any]]) -> dict[str, Any]:
        results: dict[str, list[dict[str, Any]]] = {}
        for row in rows:
            question, expect, expect_all = str(row["question"]), row.get("expect"), row.get("expect_all")
            for method, (text, sources, how) in (await self.answers(question)).items():
                results.setdefault(method, []).append(
                    {
                        "question": question,
                        "answer": text,
                        "outcome": grade(text, expect, expect_all),
                        "unsupported": unsupported_sentences(text, sources),
                        "method": how,
                    }
                )
        return summarise(rows, results)


def _cited(cited: list[int], hits: list[Hit]) -> list[str]:
    return [hits[n - 1].text for n in cited if 0 < n <= len(hits)]


def summarise(rows: list[dict[str, Any]], results: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    answerable = sum(1 for row in rows if row.get("expect") is not None)
    summary: dict[str, Any] = {"questions": len(rows), "answerable": answerable}
    for method, graded in results.items():
        outcomes = [item["outcome"] for item in graded]
        summary[method] = {
            "right": outcomes.count("right"),
            "answerable_right": sum(
                1
                for row, outcome in zip(rows, outcomes, strict=True)
                if row.get("expect") is not None and outcome == "right"
            ),
            "answerable_declined": outcomes.count("declined"),
            "unanswerable_declined": sum(
                1
                for row, outcome in zip(rows, outcomes, strict=True)
                if row.get("expect") is None and outcome == "right"
            ),
            "wrong": outcomes.count("wrong"),
            "unsupported": sum(1 for item in graded if item["unsupported"]),
            "accuracy": round(outcomes.count("right") / len(rows), 3),
            "generated_kept": sum(1 for item in graded if item["method"] == "generative"),
            "answers": graded,
        }
    return summary


LABELS = {
    "baseline": "plain sentence picker, semantic top 4 (old bench ranking)",
    "opsdesk": "opsdesk extractive, semantic top 4 (old bench ranking)",
    "baseline_product": "plain sentence picker, chat's hybrid retrieval",
    "opsdesk_product": "opsdesk extractive, chat's hybrid retrieval",
    "generated": "opsdesk with local SmolLM2, chat's hybrid retrieval",
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
    for method in ("opsdesk_product", "generated"):
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
