"""Knowledge bases, versioned documents, chunks (pgvector + full-text), ingestion jobs and tasks."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pgvector.sqlalchemy import Vector
from sqlalchemy import (
    BigInteger,
    Computed,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    Uuid,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, TSVECTOR
from sqlalchemy.orm import Mapped, deferred, mapped_column

from opsdesk.db.base import Base, IdMixin, TimestampMixin, utcnow

EMBEDDING_DIM = 384  # all-MiniLM-L6-v2; hosted embedders are asked for this many dimensions


class KnowledgeBase(IdMixin, TimestampMixin, Base):
    __tablename__ = "knowledge_bases"
    __table_args__ = (UniqueConstraint("workspace_id", "name", name="uq_knowledge_bases_workspace_name"),)

    workspace_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("workspaces.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    description: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(20), default="active")  # active | archived
    tags: Mapped[list[str]] = mapped_column(ARRAY(String(64)), default=list)
    parent_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, ForeignKey("knowledge_bases.id", ondelete="SET NULL"))
    # Bumped by every ingestion or deletion; part of every query-cache key, so a change invalidates cached results.
    content_version: Mapped[int] = mapped_column(BigInteger, default=0)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)


class Document(IdMixin, TimestampMixin, Base):
    """A document is identified in its knowledge base by `source_key` (file name, URL or repository path)."""

    __tablename__ = "documents"
    __table_args__ = (UniqueConstraint("kb_id", "source_key", name="uq_documents_kb_source_key"),)

    workspace_id: Mapped[uuid.UUID] = mapped_column(Uuid, index=True)
    kb_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("knowledge_bases.id", ondelete="CASCADE"), index=True)
    source_key: Mapped[str] = mapped_column(String(2048))
    title: Mapped[str] = mapped_column(String(500))
    source: Mapped[str] = mapped_column(String(20))  # upload | crawl | git | api
    doc_type: Mapped[str] = mapped_column(String(20))
    tags: Mapped[list[str]] = mapped_column(ARRAY(String(64)), default=list)
    meta: Mapped[dict[str, Any]] = mapped_column("metadata", JSONB, default=dict)
    status: Mapped[str] = mapped_column(String(20), default="pending")  # pending | ready | failed
    error: Mapped[str | None] = mapped_column(Text)
    latest_version_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    latest_version: Mapped[str | None] = mapped_column(String(40))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)


class DocumentVersion(IdMixin, TimestampMixin, Base):
    """Every version is kept; the raw bytes stay so a job can be retried or resumed after a crash."""

    __tablename__ = "document_versions"
    __table_args__ = (UniqueConstraint("document_id", "version", name="uq_document_versions_document_version"),)

    workspace_id: Mapped[uuid.UUID] = mapped_column(Uuid, index=True)
    document_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("documents.id", ondelete="CASCADE"), index=True)
    version: Mapped[str] = mapped_column(String(40))  # semantic version "v1.2.3"
    major: Mapped[int] = mapped_column(Integer)
    minor: Mapped[int] = mapped_column(Integer)
    patch: Mapped[int] = mapped_column(Integer)
    content_hash: Mapped[str] = mapped_column(String(64), index=True)
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    content_type: Mapped[str | None] = mapped_column(String(200))
    content: Mapped[bytes] = deferred(mapped_column(LargeBinary))
    status: Mapped[str] = mapped_column(String(20), default="queued")  # queued | processing | ready | failed
    error: Mapped[str | None] = mapped_column(Text)
    chunk_count: Mapped[int] = mapped_column(Integer, default=0)


class Chunk(IdMixin, Base):
    __tablename__ = "chunks"
    __table_args__ = (
        UniqueConstraint("version_id", "ordinal", name="uq_chunks_version_ordinal"),
        Index(
            "ix_chunks_embedding_hnsw",
            "embedding",
            postgresql_using="hnsw",
            postgresql_with={"m": 16, "ef_construction": 64},
            postgresql_ops={"embedding": "vector_cosine_ops"},
        ),
        # fastupdate off: with a pending list, every keyword query scans all entries not yet merged, and a bulk
        # ingestion keeps that list full (bench/ingest_under_load.py); the (background) writers pay instead.
        Index("ix_chunks_tsv", "tsv", postgresql_using="gin", postgresql_with={"fastupdate": "off"}),
    )

    workspace_id: Mapped[uuid.UUID] = mapped_column(Uuid, index=True)
    kb_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("knowledge_bases.id", ondelete="CASCADE"), index=True)
    document_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("documents.id", ondelete="CASCADE"), index=True)
    version_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("document_versions.id", ondelete="CASCADE"), index=True
    )
    ordinal: Mapped[int] = mapped_column(Integer)
    text: Mapped[str] = mapped_column(Text)
    section_path: Mapped[str] = mapped_column(Text, default="")
    page: Mapped[int | None] = mapped_column(Integer)
    token_count: Mapped[int] = mapped_column(Integer, default=0)
    content_hash: Mapped[str] = mapped_column(String(64))
    embedding: Mapped[list[float]] = mapped_column(Vector(EMBEDDING_DIM))
    # Title and section weigh more than body text in keyword search.
    tsv: Mapped[Any] = mapped_column(
        TSVECTOR,
        Computed(
            "setweight(to_tsvector('english', coalesce(section_path, '')), 'B') || "
            "setweight(to_tsvector('english', text), 'D')",
            persisted=True,
        ),
    )


class IngestionJob(IdMixin, TimestampMixin, Base):
    __tablename__ = "ingestion_jobs"

    workspace_id: Mapped[uuid.UUID] = mapped_column(Uuid, index=True)
    kb_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("knowledge_bases.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(20))  # upload | crawl | git | api
    params: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    status: Mapped[str] = mapped_column(String(20), default="queued")  # queued | running | done | failed
    error: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    total_items: Mapped[int] = mapped_column(Integer, default=0)
    done_items: Mapped[int] = mapped_column(Integer, default=0)
    failed_items: Mapped[int] = mapped_column(Integer, default=0)
    skipped_items: Mapped[int] = mapped_column(Integer, default=0)
    report: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, default=list)  # per item: key, outcome, reason
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    heartbeat_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class KbTask(IdMixin, TimestampMixin, Base):
    __tablename__ = "kb_tasks"

    workspace_id: Mapped[uuid.UUID] = mapped_column(Uuid, index=True)
    kb_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("knowledge_bases.id", ondelete="CASCADE"), index=True)
    title: Mapped[str] = mapped_column(String(300))
    description: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(20), default="todo")  # todo | in_progress | blocked | done
    priority: Mapped[str] = mapped_column(String(10), default="medium")  # low | medium | high | urgent
    assignee: Mapped[str | None] = mapped_column(String(200))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)


class KbTaskDependency(Base):
    __tablename__ = "kb_task_dependencies"

    task_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("kb_tasks.id", ondelete="CASCADE"), primary_key=True)
    depends_on_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("kb_tasks.id", ondelete="CASCADE"), primary_key=True
    )
