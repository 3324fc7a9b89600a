"""Coalesces concurrent single-lead requests into one vectorised scoring pass.

Building features has a fixed cost per pass (pandas frames for the three tables and the
feature block) that dwarfs the cost per lead, so leads waiting at the same moment are scored
together. There is no timer: the first request starts a pass at once; requests arriving while
it runs (in a worker thread, so the event loop keeps reading requests) form the next pass. A
quiet service therefore adds no delay, a busy one gets larger passes.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from serving.schemas.requests import ScoreRequest


@dataclass(frozen=True)
class Job:
    request: ScoreRequest
    reasons: bool


class ScoringQueue:
    """Attributes:
    run: scores a list of jobs in one pass and returns one result per job, in order (an
        exception for a job refused alone: its request gets it raised).
    max_leads: the most leads one pass takes.
    """

    def __init__(self, run: Callable[[Sequence[Job]], list[Any]], max_leads: int) -> None:
        self.run = run
        self.max_leads = max_leads
        self._pending: list[tuple[Job, asyncio.Future]] = []
        self._drainer: asyncio.Task | None = None

    async def submit(self, job: Job) -> Any:
        future = asyncio.get_running_loop().create_future()
        self._pending.append((job, future))
        if self._drainer is None or self._drainer.done():
            self._drainer = asyncio.create_task(self._drain())
        return await future

    async def _drain(self) -> None:
        while self._pending:
            batch = self._pending[: self.max_leads]
            del self._pending[: self.max_leads]
            batch = [(job, future) for job, future in batch if not future.cancelled()]
            if not batch:
                continue
            try:
                results = await asyncio.to_thread(self.run, [job for job, _ in batch])
            except Exception as error:  # every waiting request gets it (-> the 500 handler)
                for _, future in batch:
                    if not future.done():
                        future.set_exception(error)
            else:
                for (_, future), result in zip(batch, results, strict=True):
                    if future.done():
                        continue
                    if isinstance(result, Exception):  # this request's own error (e.g. a 503)
                        future.set_exception(result)
                    else:
                        future.set_result(result)
