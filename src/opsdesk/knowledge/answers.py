"""Grounded answers from retrieved chunks, with numbered citations [1], [2] that map to the hits.

* When the best chunk's similarity to the question is under `settings.answer_min_score`, the answer says it does
  not know, and cites nothing.
* Without a generative model the answer is extractive: the passage sentences closest to the question, quoted and
  cited. Headings are never quoted, and when no sentence comes within `settings.answer_min_sentence_score` of the
  question the answer says it does not know rather than quote something beside the point.
* With a model, it writes a short answer from the numbered passages only. A reply that cites no passage, cites one
  that does not exist, or says things the passages do not contain is replaced by the extractive answer: a small
  model words answers, it never gets to invent them.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field

import numpy as np

from opsdesk.core.logging import get_logger
from opsdesk.knowledge.chunking import SECTION_SEPARATOR
from opsdesk.knowledge.retrieval import Hit
from opsdesk.providers.llm.base import ChatMessage, ChatProvider, ChatRequest, EmbeddingProvider

_log = get_logger(__name__)
DONT_KNOW = "I don't know: the knowledge base has nothing that answers this confidently."
CONTEXT_HITS = 4
_PASSAGE_CHARS = 900
_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"'(\[])")
_PARAGRAPH = re.compile(r"\n[ \t]*\n")
_LIST_ITEM = re.compile(r"\n[ \t]*(?:[-*+\u2022]|\d{1,2}[.)])[ \t]+")
_EMPHASIS = re.compile(r"\*\*|__|`")
_HEADING_CHARS = 80
_CITATION = re.compile(r"\[(\d{1,2})\]")
_WORD = re.compile(r"[a-z0-9]{3,}")
_MIN_SUPPORT = 0.6  # share of an answer's content words that must appear in the passages it could cite

SYSTEM_PROMPT = (
    "You answer questions using only the numbered passages given. Answer in one to three short sentences. "
    "After each statement put the number of the passage it comes from in brackets, like [1]. "
    "If the passages do not contain the answer, reply exactly: I don't know."
)


@dataclass
class Answer:
    text: str
    known: bool
    method: str  # generative | extractive | none
    confidence: float
    cited: list[int] = field(default_factory=list)  # 1-based hit numbers
    model: str | None = None


def confidence_of(hits: Sequence[Hit]) -> float:
    """The best cosine similarity between the question and a retrieved chunk (0 when none was computed)."""
    values = [hit.similarity for hit in hits if hit.similarity is not None]
    return round(max(values), 4) if values else 0.0


def dont_know(confidence: float) -> Answer:
    return Answer(DONT_KNOW, False, "none", confidence)


def is_heading(paragraph: str) -> bool:
    """A one-line paragraph with no sentence ending ("Delivery days and time slots"): a title, not an answer."""
    line = paragraph.strip()
    return "\n" not in line and len(line) <= _HEADING_CHARS and not line.endswith((".", "!", "?", ":", '"', ")"))


def split_sentences(text: str) -> list[str]:
    """The sentences of a chunk: list items apart, headings left out, markdown emphasis removed."""
    return [sentence for _, sentence in sentences_under_headings(text)]


def sentences_under_headings(text: str, heading: str = "") -> list[tuple[str, str]]:
    """(the heading it is under, sentence) for each sentence of a chunk; `heading` is the one the chunk starts under."""
    sentences = []
    for paragraph in _PARAGRAPH.split(text):
        if not paragraph.strip():
            continue
        if is_heading(paragraph):
            heading = " ".join(_EMPHASIS.sub("", paragraph).split())
            continue
        for item in _LIST_ITEM.split("\n" + paragraph.strip()):
            for part in _SENTENCE.split(item):
                sentence = " ".join(_EMPHASIS.sub("", part).split())
                if len(sentence) >= 12:
                    sentences.append((heading, sentence))
    return sentences


async def extractive_answer(
    embedder: EmbeddingProvider,
    question: str,
    hits: Sequence[Hit],
    confidence: float,
    *,
    max_sentences: int = 2,
    min_similarity: float = 0.0,
) -> Answer:
    """The sentences of the top passages closest to the question, quoted, each with its citation (or "I don't
    know" when none is within `min_similarity` of the question)."""
    candidates: list[tuple[int, int, str]] = []  # (hit number, sentence index, sentence)
    scored: list[str] = []  # what is compared with the question: the sentence under its heading
    for number, hit in enumerate(hits[:CONTEXT_HITS], start=1):
        section = hit.section_path.split(SECTION_SEPARATOR)[-1] if hit.section_path else ""
        for index, (heading, sentence) in enumerate(sentences_under_headings(hit.text, section)[:40]):
            candidates.append((number, index, sentence))
            scored.append(f"{heading}: {sentence}" if heading else sentence)
    if not candidates:
        return dont_know(confidence)
    vectors = await embedder.embed([question, *scored])
    matrix = np.asarray(vectors, dtype=np.float32)
    similarity = matrix[1:] @ matrix[0]
    if float(similarity.max()) < min_similarity:
        return dont_know(confidence)
    # Earlier (better-ranked) passages win close calls.
    scores = [float(sim) - 0.02 * (number - 1) for sim, (number, _, _) in zip(similarity, candidates, strict=True)]
    best = sorted(range(len(candidates)), key=lambda i: -scores[i])[:max_sentences]
    top_score = scores[best[0]]
    chosen = [i for i in best if scores[i] >= top_score - 0.05]
    chosen.sort(key=lambda i: (candidates[i][0], candidates[i][1]))
    parts = [f'"{candidates[i][2]}" [{candidates[i][0]}]' for i in chosen]
    cited = sorted({candidates[i][0] for i in chosen})
    return Answer(" ".join(parts), True, "extractive", confidence, cited)


def build_prompt(question: str, hits: Sequence[Hit]) -> list[ChatMessage]:
    passages = "\n\n".join(
        f"[{number}] {hit.document_title}: {hit.text[:_PASSAGE_CHARS]}"
        for number, hit in enumerate(hits[:CONTEXT_HITS], start=1)
    )
    return [
        ChatMessage(role="system", content=SYSTEM_PROMPT),
        ChatMessage(role="user", content=f"Passages:\n{passages}\n\nQuestion: {question}\nAnswer:"),
    ]


def check_generated(text: str, hits: Sequence[Hit]) -> list[int] | None:
    """The hit numbers a generated answer cites, or None when it is not grounded in the passages it may use."""
    text = text.strip()
    if not text or text.lower().startswith("i don't know"):
        return None
    usable = hits[:CONTEXT_HITS]
    cited = sorted({int(n) for n in _CITATION.findall(text)})
    if not cited or any(n < 1 or n > len(usable) for n in cited):
        return None
    words = set(_WORD.findall(_CITATION.sub(" ", text).lower()))
    if not words:
        return None
    source = set(_WORD.findall(" ".join(f"{hit.document_title} {hit.text}" for hit in usable).lower()))
    if len(words & source) / len(words) < _MIN_SUPPORT:
        return None
    return cited


class Answerer:
    """Writes answers for one request: generative when a chat provider is given, extractive otherwise."""

    def __init__(
        self,
        embedder: EmbeddingProvider,
        provider: ChatProvider | None,
        *,
        model: str | None = None,
        min_score: float = 0.3,
        min_sentence_score: float = 0.0,
        max_tokens: int = 160,
    ) -> None:
        self.embedder = embedder
        self.provider = provider
        self.model = model
        self.min_score = min_score
        self.min_sentence_score = min_sentence_score
        self.max_tokens = max_tokens

    def _request(self, question: str, hits: Sequence[Hit]) -> ChatRequest:
        return ChatRequest(
            messages=build_prompt(question, hits), model=self.model, temperature=0.1, max_tokens=self.max_tokens
        )

    async def answer(self, question: str, hits: Sequence[Hit]) -> Answer:
        """The whole answer at once."""
        final: Answer | None = None
        async for _, done in self.stream(question, hits):
            final = done if done is not None else final
        assert final is not None
        return final

    async def stream(self, question: str, hits: Sequence[Hit]) -> AsyncIterator[tuple[str, Answer | None]]:
        """(text delta, None) while the answer is written, then ("", the final answer).

        The final answer is authoritative: when a generated reply fails the grounding check, it replaces what was
        streamed with the extractive answer.
        """
        confidence = confidence_of(hits)
        if not hits or confidence < self.min_score:
            answer = dont_know(confidence)
            yield answer.text, None
            yield "", answer
            return
        if self.provider is not None:
            parts: list[str] = []
            model: str | None = None
            try:
                async for chunk in self.provider.stream(self._request(question, hits)):
                    model = chunk.model or model
                    if chunk.delta:
                        parts.append(chunk.delta)
                        yield chunk.delta, None
            except Exception as exc:  # the answer degrades to extractive; retrieval results stand
                _log.warning("answer_generation_failed", error=f"{type(exc).__name__}: {exc}")
            text = "".join(parts).strip()
            cited = check_generated(text, hits)
            if cited is not None:
                yield "", Answer(text, True, "generative", confidence, cited, model or self.model)
                return
            if text:
                _log.info("answer_not_grounded", chars=len(text))
        answer = await extractive_answer(
            self.embedder, question, hits, confidence, min_similarity=self.min_sentence_score
        )
        if self.provider is None:
            yield answer.text, None
        yield "", answer
