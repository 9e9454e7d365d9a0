"""Answers being computed right now: the L2 tier's view of the near future.

When fifty customers ask "what are your payment terms?" within a second, every one of them misses L2 (the first
answer is not stored yet) and each would compute the same answer on the same model. A stateless question that L2
would answer from a question still in flight waits for that answer instead, under the same verification
(`semantic.choose`: threshold, margin, agreement of numbers, calendar words and subjects). If the leader's reply
turns out not to be cacheable, or it fails, each follower computes its own.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from opsdesk.conversation.pair_verifier import PairVerifier
from opsdesk.conversation.semantic import NO_SUBJECTS, Candidate, SubjectTerms, choose

Payload = dict[str, Any]


@dataclass
class _Entry:
    question: str
    vector: np.ndarray[Any, np.dtype[np.float32]]
    answer: asyncio.Future[Payload | None]
    id: uuid.UUID = field(default_factory=uuid.uuid4)


class InFlight:
    """Stateless questions whose answers are being computed, per cache scope (one per process)."""

    def __init__(self) -> None:
        self._entries: dict[str, list[_Entry]] = {}

    def find(
        self,
        scope: str,
        question: str,
        vector: Sequence[float],
        threshold: float,
        margin: float,
        subjects: SubjectTerms = NO_SUBJECTS,
        verifier: PairVerifier | None = None,
    ) -> asyncio.Future[Payload | None] | None:
        """The pending answer that may serve `question`, or None."""
        entries = self._entries.get(scope)
        if not entries:
            return None
        query = np.asarray(vector, dtype=np.float32)
        scored = sorted(
            ((float(entry.vector @ query), entry) for entry in entries), key=lambda pair: pair[0], reverse=True
        )
        # Distinct placeholders per entry, so the margin rule sees two different pending answers as different.
        candidates = [
            Candidate(entry.id, entry.question, {"pending": str(entry.id)}, score, entry.vector)
            for score, entry in scored
        ]
        found = choose(question, candidates, threshold, margin, subjects, verifier, query)
        return None if found is None else next(entry.answer for _, entry in scored if entry.id == found.id)

    @contextmanager
    def lead(self, scope: str, question: str, vector: Sequence[float]) -> Iterator[asyncio.Future[Payload | None]]:
        """Registers `question` as in flight; set the yielded future to the cacheable payload (or None)."""
        answer: asyncio.Future[Payload | None] = asyncio.get_running_loop().create_future()
        entry = _Entry(question, np.asarray(vector, dtype=np.float32), answer)
        self._entries.setdefault(scope, []).append(entry)
        try:
            yield answer
        finally:
            if not answer.done():
                answer.set_result(None)  # failed or not cacheable: followers answer for themselves
            remaining = [item for item in self._entries.get(scope, []) if item is not entry]
            if remaining:
                self._entries[scope] = remaining
            else:
                self._entries.pop(scope, None)


def inflight_of(extras: dict[str, Any]) -> InFlight:
    """The process's registry, kept in the app context's extras."""
    registry = extras.get("conversation.inflight")
    if not isinstance(registry, InFlight):
        registry = extras["conversation.inflight"] = InFlight()
    return registry
