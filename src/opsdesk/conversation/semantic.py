"""L2: answers found again by the meaning of the question (pgvector), with a cheap verification step.

Plain cosine on MiniLM serves too many wrong answers at a useful hit rate (bench/semantic_cache.py: 50 wrong of
959 served at 0.80 on GPTCache's pairs). Two checks make a match trustworthy:

* margin: the best entry must beat the runner-up by `margin`, unless both hold the same answer. When the cache holds
  two near-identical questions with different answers, the new question is ambiguous between them: answer it fresh.
* agreement: numbers, codes and identifiers (10", ORD-1, push_to_hub()), weekdays, months and relative days must
  be the same on both sides. "Do you deliver on Sunday?" must never get the cached answer about Saturday.
* subjects (when the solution names its things, e.g. the order desk from its catalog): both questions must be about
  the same kinds of thing, with no clashing qualifier. "Are your meal trays microwave safe?" is 0.83 from "Are your
  containers microwave safe?" in MiniLM, and must not get its answer.
* the pair verifier (`pair_verifier`, when given): a small network over the cosine, word overlaps and a word-by-word
  alignment of MiniLM's token vectors, trained on QQP, must find the two questions the same. With it the cosine
  floor is lower (0.78): the verifier, not the cosine, decides (bench/semantic_cache.py).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from opsdesk.conversation.cache import CacheScope, count
from opsdesk.conversation.models import SemanticCacheEntry
from opsdesk.conversation.pair_verifier import PairVerifier
from opsdesk.core.text import singular

Vector = Sequence[float] | np.ndarray[Any, np.dtype[np.float32]]
_TOKEN = re.compile(r"[^\W_][\w+#./:-]*[\w+#]|[^\W_]", re.UNICODE)
_WEEKDAYS = "monday tuesday wednesday thursday friday saturday sunday weekday weekdays weekend weekends"
_RELATIVE = "today tonight tomorrow tmr tmrw yesterday"
_MONTHS = "january february march april june july august september october november december jan feb apr jun jul aug"
_CALENDAR = frozenset(f"{_WEEKDAYS} {_RELATIVE} {_MONTHS} sep sept oct nov dec".split())
_SAME = 0.999  # a question this close to a stored one replaces it instead of adding a twin
_WORD = re.compile(r"[a-z]+")


def critical_tokens(text: str) -> frozenset[str]:
    """The tokens a paraphrase must keep: numbers, code-like tokens and calendar words."""
    found = set()
    for token in _TOKEN.findall(text):
        lowered = token.lower().rstrip(".:/-")
        if any(c.isdigit() for c in lowered) or any(c in lowered for c in "_+#") or lowered in _CALENDAR:
            found.add(lowered)
    return frozenset(found)


def agrees(question: str, cached_question: str) -> bool:
    return critical_tokens(question) == critical_tokens(cached_question)


@dataclass(frozen=True)
class SubjectTerms:
    """What a solution's questions can be about: its kinds of thing and the words that qualify them.

    In "pizza box liners" the last kind word of the phrase (liner) is the subject and "pizza" and "box" qualify it.
    Two questions agree when they have the same subjects (none on both sides counts) and, if both are qualified, share
    a qualifier: "kraft bags" and "plastic bags" differ, "regular vs premium boxes" and "premium pizza boxes" do not.
    """

    kinds: frozenset[str] = frozenset()
    qualifiers: frozenset[str] = frozenset()

    def read(self, text: str) -> tuple[frozenset[str], frozenset[str]]:
        """The subjects and the qualifiers of `text`."""
        words = [singular(word) for word in _WORD.findall(text.lower())]
        subjects: set[str] = set()
        qualifiers: set[str] = set()
        for position, word in enumerate(words):
            following = words[position + 1] if position + 1 < len(words) else ""
            if word in self.kinds and following not in self.kinds:
                subjects.add(word)
            elif word in self.kinds or word in self.qualifiers:
                qualifiers.add(word)
        return frozenset(subjects), frozenset(qualifiers)

    def agree(self, question: str, cached_question: str) -> bool:
        if not self.kinds and not self.qualifiers:
            return True
        subjects, qualifiers = self.read(question)
        cached_subjects, cached_qualifiers = self.read(cached_question)
        if subjects != cached_subjects:
            return False
        return not (qualifiers and cached_qualifiers and qualifiers.isdisjoint(cached_qualifiers))


NO_SUBJECTS = SubjectTerms()


@dataclass(frozen=True)
class Candidate:
    id: uuid.UUID
    question: str
    answer: dict[str, Any]
    similarity: float
    vector: Vector | None = None  # the stored question's embedding, for the pair verifier


def choose(
    question: str,
    candidates: Sequence[Candidate],
    threshold: float,
    margin: float,
    subjects: SubjectTerms = NO_SUBJECTS,
    verifier: PairVerifier | None = None,
    vector: Vector | None = None,
) -> Candidate | None:
    """The candidate that may answer `question` (candidates best first), or None.

    With a `verifier`, `vector` (the question's embedding) and the best candidate's vector are needed; without
    them the candidate is refused.
    """
    if not candidates or candidates[0].similarity < threshold:
        return None
    best = candidates[0]
    if len(candidates) > 1:
        runner_up = candidates[1]
        if best.similarity - runner_up.similarity < margin and runner_up.answer != best.answer:
            return None
    if not (agrees(question, best.question) and subjects.agree(question, best.question)):
        return None
    if verifier is None:
        return best
    if vector is None or best.vector is None:
        return None
    return best if verifier.accepts(question, vector, best.question, best.vector) else None


class SemanticCache:
    """The pgvector table behind L2; every statement is scoped by workspace and scope digest."""

    def __init__(
        self,
        threshold: float,
        margin: float,
        ttl_s: float,
        subjects: SubjectTerms = NO_SUBJECTS,
        verifier: PairVerifier | None = None,
    ) -> None:
        self.threshold = threshold
        self.margin = margin
        self.ttl_s = ttl_s
        self.subjects = subjects
        self.verifier = verifier

    async def candidates(
        self, session: AsyncSession, scope: CacheScope, vector: Sequence[float], limit: int = 2
    ) -> list[Candidate]:
        """The nearest live entries of the scope, best first."""
        distance = SemanticCacheEntry.embedding.cosine_distance(list(vector))
        rows = await session.execute(
            select(
                SemanticCacheEntry.id,
                SemanticCacheEntry.question,
                SemanticCacheEntry.answer,
                distance,
                SemanticCacheEntry.embedding,
            )
            .where(
                SemanticCacheEntry.workspace_id == scope.workspace_id,
                SemanticCacheEntry.scope == scope.digest(),
                SemanticCacheEntry.expires_at > datetime.now(UTC),
            )
            .order_by(distance)
            .limit(limit)
        )
        return [
            Candidate(row[0], row[1], row[2], 1.0 - float(row[3]), np.asarray(row[4], dtype=np.float32)) for row in rows
        ]

    async def lookup(
        self, session: AsyncSession, scope: CacheScope, question: str, vector: Sequence[float]
    ) -> Candidate | None:
        """A verified match for `question`, counted as an L2 hit or miss."""
        candidates = await self.candidates(session, scope, vector)
        if self.verifier is not None and candidates and candidates[0].similarity >= self.threshold:
            await self.verifier.prepare(question, candidates[0].question)
        found = choose(
            question,
            candidates,
            self.threshold,
            self.margin,
            self.subjects,
            self.verifier,
            vector,
        )
        count("l2", found is not None)
        if found is not None:
            await session.execute(
                update(SemanticCacheEntry)
                .where(SemanticCacheEntry.id == found.id)
                .values(hits=SemanticCacheEntry.hits + 1)
            )
        return found

    async def store(
        self, session: AsyncSession, scope: CacheScope, question: str, vector: Sequence[float], answer: dict[str, Any]
    ) -> None:
        """Keeps `answer` for `question` (replacing the entry of the same question)."""
        if self.ttl_s <= 0:
            return
        expires_at = datetime.now(UTC) + timedelta(seconds=self.ttl_s)
        nearest = await self.candidates(session, scope, vector, limit=1)
        if nearest and nearest[0].similarity >= _SAME:
            await session.execute(
                update(SemanticCacheEntry)
                .where(SemanticCacheEntry.id == nearest[0].id)
                .values(answer=answer, expires_at=expires_at)
            )
            return
        session.add(
            SemanticCacheEntry(
                workspace_id=scope.workspace_id,
                scope=scope.digest(),
                solution=scope.solution,
                kb_version=scope.kb_version[:100],
                model=scope.model[:200],
                prompt_version=scope.prompt_version[:64],
                question=question,
                embedding=list(vector),
                answer=answer,
                hits=0,
                expires_at=expires_at,
            )
        )
        await session.flush()
