"""Request and response bodies of the query API (ranked chunks, citations, answers)."""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

Tag = Annotated[str, Field(min_length=1, max_length=64)]


class QueryFilters(BaseModel):
    model_config = ConfigDict(extra="forbid")

    tags: list[Tag] = Field(default_factory=list, max_length=20, description="Documents carrying every one of these.")
    doc_types: list[Annotated[str, Field(min_length=1, max_length=20)]] = Field(
        default_factory=list, max_length=20, description="Document types, e.g. md, pdf, html."
    )
    document_ids: list[uuid.UUID] = Field(default_factory=list, max_length=100)
    version: str | None = Field(
        default=None, max_length=40, description="Search this version (e.g. v1.2.0) instead of each latest one."
    )


class QueryIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    query: str = Field(min_length=1, max_length=2000)
    mode: Literal["keyword", "semantic", "hybrid"] = "hybrid"
    top_k: int = Field(default=10, ge=1, le=100)
    filters: QueryFilters = Field(default_factory=QueryFilters)
    rerank: bool = Field(default=False, description="Reorder the first results with the configured reranker.")
    answer: bool = Field(default=False, description="Also answer the question from the results, with citations.")
    stream: bool = Field(default=False, description="Reply as server-sent events (hits, answer deltas, answer).")
    cache: bool = Field(default=True, description="Serve and store repeated queries from the query cache.")

    @field_validator("query")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("the query is blank")
        return value


class Citation(BaseModel):
    """Where a chunk comes from: enough to open the document at the right place."""

    number: int = Field(description="The [n] that answers use for this chunk.")
    chunk_id: uuid.UUID
    kb_id: uuid.UUID
    document_id: uuid.UUID
    document_title: str
    source_key: str
    version: str
    version_id: uuid.UUID
    section: str
    page: int | None


class HitOut(BaseModel):
    rank: int
    score: float = Field(description="The ranking score of the mode (RRF for hybrid, BM25, or cosine similarity).")
    similarity: float | None = Field(description="Cosine similarity of chunk and query.")
    keyword_rank: int | None
    semantic_rank: int | None
    rerank_score: float | None
    text: str
    citation: Citation


class AnswerOut(BaseModel):
    text: str
    known: bool = Field(description="False when the knowledge base holds nothing that answers confidently.")
    method: Literal["generative", "extractive", "none"]
    confidence: float = Field(description="The best chunk's similarity to the question, which `known` is based on.")
    citations: list[Citation] = Field(description="The chunks the answer cites, by their [n].")
    model: str | None = None


class QueryOut(BaseModel):
    query: str
    kb: str
    mode: str
    hits: list[HitOut]
    answer: AnswerOut | None = None
    reranked_by: str | None = None
    cached: bool = False
    timings_ms: dict[str, float] = Field(default_factory=dict)
