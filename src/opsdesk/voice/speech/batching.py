"""Decodes waiting for the recogniser, taken by its workers in batches.

When ten callers stop speaking at once, ten decodes wait for two workers. Decoded one by one the last waits for
five decodes in a row; taken as batches the decoder's per-token work is shared across the batch, which on CPU makes
each utterance cheaper. A worker that comes free takes its share of what waits: split with the busy workers that have
not yet had a turn at it (they took their batch before it arrived), at most `max_batch`. A job that cannot be
batched (a long utterance) is taken alone. The first decode of a quiet moment never waits for company: a free
worker takes what is there at once.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Generic, TypeVar

Item = TypeVar("Item")


@dataclass(slots=True, eq=False)
class _Job(Generic[Item]):
    item: Item
    batchable: bool
    seq: int
    future: Future[str] = field(default_factory=Future)


class DecodeBatcher(Generic[Item]):
    """Runs `decode` (a list of items → their texts, in order) on `workers` threads over what `submit` queued."""

    def __init__(
        self, decode: Callable[[list[Item]], list[str]], *, workers: int, max_batch: int = 8, name: str = "asr"
    ) -> None:
        self.workers = max(1, workers)
        self.max_batch = max(1, max_batch)
        self.batches: list[int] = []  # the size of each batch run, the latest 100 (to see batching happen)
        self._decode = decode
        self._executor = ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix=name)
        self._lock = threading.Lock()
        self._waiting: list[_Job[Item]] = []
        self._free = self.workers
        self._submitted = 0  # jobs numbered as they come
        self._running: dict[int, int] = {}  # batch id → the last job number submitted when it was taken
        self._batch_ids = 0

    def submit(self, item: Item, *, batchable: bool = True) -> Future[str]:
        """Queues an item; its text arrives in the future (cancel it to take the item out while it waits)."""
        with self._lock:
            self._submitted += 1
            job = _Job(item, batchable, self._submitted)
            self._waiting.append(job)
            self._dispatch()
        return job.future

    def _dispatch(self) -> None:
        """Hands batches to free workers (called with the lock held)."""
        while self._free and self._waiting:
            jobs = [job for job in self._take() if job.future.set_running_or_notify_cancel()]
            if not jobs:
                continue  # all cancelled while they waited
            self._free -= 1
            self._batch_ids += 1
            self._running[self._batch_ids] = self._submitted
            self.batches = [*self.batches[-99:], len(jobs)]
            self._executor.submit(self._run, self._batch_ids, jobs)

    def _take(self) -> list[_Job[Item]]:
        first = self._waiting[0]
        if not first.batchable:
            return [self._waiting.pop(0)]
        batchable = [job for job in self._waiting if job.batchable]
        sharing = sum(seen < batchable[0].seq for seen in self._running.values())  # busy, yet to have a turn
        share = min(self.max_batch, math.ceil(len(batchable) / (1 + sharing)))
        taken = batchable[:share]
        self._waiting = [job for job in self._waiting if all(job is not other for other in taken)]
        return taken

    def _run(self, batch: int, jobs: list[_Job[Item]]) -> None:
        try:
            texts = self._decode([job.item for job in jobs])
            if len(texts) != len(jobs):
                raise RuntimeError(f"{len(texts)} texts for a batch of {len(jobs)}")
        except BaseException as exc:  # every caller of the batch hears of it
            for job in jobs:
                job.future.set_exception(exc)
        else:
            for job, text in zip(jobs, texts, strict=True):
                job.future.set_result(text)
        finally:
            with self._lock:
                self._free += 1
                del self._running[batch]
                self._dispatch()
