"""Grounded answers from retrieved chunks, with numbered citations [1], [2] that map to the hits.

* When the best chunk's similarity to the question is under `settings.answer_min_score`, the answer says it does
  not know, and cites nothing.
* Without a generative model the answer is extractive: the passage sentences closest to the question, quoted and
  cited.
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
from opsdesk.knowledge.retrieval import Hit
from opsdesk.providers.llm.base import ChatMessage, ChatProvider, ChatRequest, EmbeddingProvider

_log = get_logger(__name__)
DONT_KNOW = "I don't know: the knowledge base has nothing that answers this confidently."
CONTEXT_HITS = 4
_PASSAGE_CHARS = 900
_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"'(\[])|\n{2,}")
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


def split_sentences(text: str) -> list[str]:
    parts = (" ".join(part.split()) for part in _SENTENCE.split(text))
    return [part for part in parts if len(part) >= 12]


async def extractive_answer(
    embedder: EmbeddingProvider, question: str, hits: Sequence[Hit], confidence: float, *, max_sentences: int = 2
) -> Answer:
    """The sentences of the top passages closest to the question, quoted, each with its citation."""
    candidates: list[tuple[int, int, str]] = []  # (hit number, sentence index, sentence)
    for number, hit in enumerate(hits[:CONTEXT_HITS], start=1):
        for index, sentence in enumerate(split_sentences(hit.text)[:40]):
            candidates.append((number, index, sentence))
    if not candidates:
        return dont_know(confidence)
    vectors = await embedder.embed([question] + [sentence for _, _, sentence in candidates])
    matrix = np.asarray(vectors, dtype=np.float32)
    similarity = matrix[1:] @ matrix[0]
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
        max_tokens: int = 160,
    ) -> None:
        self.embedder = embedder
        self.provider = provider
        self.model = model
        self.min_score = min_score
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
        answer = await extractive_answer(self.embedder, question, hits, confidence)
        if self.provider is None:
            yield answer.text, None
        yield "", answer
