"""The models a worker serves (``ModelSlot``), and how a reload reaches every worker of a server.

A ``Models`` is never mutated: a reload builds the new one aside and swaps it in with one
assignment, so requests in flight finish on the object they started with, and a failed reload
leaves the old one serving. With a shared folder (``Settings.runtime_dir``, which ``leadscore
serve`` makes; ``serving.scoring.generation``) the worker that reloads publishes the new
generation before it answers, and every worker reads the generation counter before each
request and, when it moved, loads that generation's bundles before it scores. So once a reload
has answered, no worker scores with the old models. Requests of a worker that find the counter
moved wait for that worker's one load of it; an idle worker follows by itself within
``FOLLOW_EVERY_S``. Without a shared folder (an app a test builds) a slot reloads itself alone.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import time
from collections.abc import Callable
from contextlib import suppress
from pathlib import Path
from typing import Any

from core.errors import ModelNotFoundError, ReloadError
from serving.scoring.generation import Generation, SharedGeneration, worker_entry
from serving.scoring.served import Models

log = logging.getLogger(__name__)
FOLLOW_EVERY_S = 0.5  # how often an idle worker looks for a reload
RETRY_AFTER_S = 1.0  # a worker that failed to follow a reload tries again after this

# told of each follow: "followed" with the new models, or "follow_failed" with None
Observe = Callable[[str, Models | None], None]


def _ignore(result: str, models: Models | None) -> None:
    pass


class ModelSlot:
    """Attributes:
    load: builds the champions anew (raises ``ModelNotFoundError``).
    load_generation: builds the models of a published generation (the same).
    runtime_dir: the folder the workers of the server share, or None.
    current: what requests score with now (None before ``start``).
    generation: the reload generation of ``current``: 1 for the models the server started
        with, one more per successful reload by any of its workers.
    worker: this worker's name in the shared folder (``<pid>-<token>``).
    """

    def __init__(
        self,
        load: Callable[[], Models],
        load_generation: Callable[[Generation], Models],
        runtime_dir: Path | None = None,
        observe: Observe = _ignore,
    ) -> None:
        self.load = load
        self.load_generation = load_generation
        self.runtime_dir = runtime_dir
        self.observe = observe
        self.current: Models | None = None
        self.generation = 0
        self.worker = ""
        self._shared: SharedGeneration | None = None
        self._seen = 0  # the counter's value when ``current`` was last checked against it
        self._reloading = asyncio.Lock()
        self._following = asyncio.Lock()
        # a generation this worker failed to load: (its number, when to try again, the error)
        self._failed: tuple[int, float, ModelNotFoundError] | None = None

    def start(self) -> Models:
        """Loads the models this worker starts with: the server's latest generation when one
        is published (a worker started late serves what the others serve), else the champions
        (then published as the first generation)."""
        self.worker = f"{os.getpid()}-{secrets.token_hex(3)}"
        if self.runtime_dir is None:
            self._swap(self.load(), 1, 0)
        else:
            self._shared = shared = SharedGeneration(self.runtime_dir)
            seen = shared.counter()
            found = shared.read()
            if found is None:
                found = shared.publish(shared.stage(models := self.load()))
                seen = found.number
            else:
                models = self.load_generation(found)
            self._swap(models, found.number, seen)
        assert self.current is not None
        return self.current

    def stop(self) -> None:
        if self._shared is not None:
            self._shared.forget_worker(self.worker)
            self._shared.close()
            self._shared = None

    @property
    def shared(self) -> bool:
        """Whether the slot follows the reloads of a server's other workers."""
        return self._shared is not None

    async def for_request(self) -> Models:
        """What a request scores with: the current models, once this worker has followed any
        reload published since it last looked (looking is one read of the mapped counter)."""
        shared = self._shared
        if shared is not None and shared.counter() != self._seen:
            await self.follow()
        if self.current is None:
            raise ModelNotFoundError("the models are not loaded yet")
        return self.current

    async def follow(self) -> None:
        """Loads and swaps in the latest published generation if it is newer than the current
        one; concurrent callers wait for the one load. Raises ``ModelNotFoundError`` (HTTP 503)
        when it cannot be loaded: this worker then answers no request with the models the reload
        replaced, and tries that generation again after ``RETRY_AFTER_S`` (a newer one at
        once)."""
        shared = self._shared
        if shared is None:
            return
        async with self._following:
            seen = shared.counter()
            if seen == self._seen:
                return  # followed while this caller waited
            found = shared.read()
            if found is None or found.number <= self.generation:  # this worker's own, or older
                self._seen = seen
                return
            if self._failed is not None:
                number, retry_at, failure = self._failed
                if number == found.number and time.monotonic() < retry_at:
                    raise failure
            try:
                fresh = await asyncio.to_thread(self.load_generation, found)
            except ModelNotFoundError as error:
                failed = ModelNotFoundError(
                    f"this worker could not follow the reload to generation {found.number} "
                    f"({error}); it tries again in {RETRY_AFTER_S:.0f} s and meanwhile scores "
                    f"nothing with generation {self.generation}, which that reload replaced"
                )
                self._failed = (found.number, time.monotonic() + RETRY_AFTER_S, failed)
                self.observe("follow_failed", None)
                raise failed from error
            self._failed = None
            self._swap(fresh, found.number, seen)
            log.info("followed the reload to generation %d: %s", found.number, self._names())
            self.observe("followed", fresh)

    async def keep_following(self) -> None:
        """Follows reloads while the worker is idle, so the listing of workers soon shows it on
        the new generation (a busy worker follows at its next request anyway). Runs until
        cancelled."""
        while True:
            await asyncio.sleep(FOLLOW_EVERY_S)
            shared = self._shared
            if shared is not None and shared.counter() != self._seen:
                with suppress(ModelNotFoundError):  # logged and counted; tried again
                    await self.follow()

    async def reload(self) -> Models:
        """Loads the champions again, aside, in a worker thread (requests keep being served),
        publishes them for the other workers, then swaps them in. On failure nothing moves:
        the old models stay everywhere and the error says which serve."""
        async with self._reloading:
            try:
                fresh = await asyncio.to_thread(self.load)
            except ModelNotFoundError as error:
                raise ModelNotFoundError(f"reload failed, {self.describe()}: {error}") from error
            shared = self._shared
            if shared is None:
                self._swap(fresh, self.generation + 1, 0)
                return fresh
            try:
                staged = await asyncio.to_thread(shared.stage, fresh)
                # held until the swap: this worker's requests that see the counter move wait
                # for it instead of loading the generation it is publishing
                async with self._following:
                    try:
                        published = await asyncio.to_thread(shared.publish, staged)
                    finally:
                        shared.discard(staged)  # moved into place, or never to be
                    self._swap(fresh, published.number, published.number)
            except OSError as error:
                raise ReloadError(
                    f"reload failed, {self.describe()}: the new models loaded but could not be "
                    f"handed to the other workers ({error})"
                ) from error
            return fresh

    def _swap(self, models: Models, generation: int, seen: int) -> None:
        self.current = models  # the one assignment requests in flight never notice
        self.generation = generation
        self._seen = seen
        if self._shared is not None:
            self._shared.record_worker(self.worker, generation, models)

    def workers(self) -> list[dict[str, Any]]:
        """What each live worker of the server serves (``worker``, ``pid``, ``generation``,
        ``versions``, ``loaded_at`` in ISO 8601), ``answering`` true for this one; without a
        shared folder, this worker alone."""
        if self._shared is not None:
            listed = self._shared.workers()
        elif self.current is not None:
            listed = [worker_entry(self.worker, self.generation, self.current)]
        else:
            listed = []
        for entry in listed:
            entry["answering"] = entry["worker"] == self.worker
        return listed

    def _names(self) -> str:
        if self.current is None:
            return "no models loaded"
        names = ", ".join(
            f"{m.name} version {m.version or m.source}" for m in self.current.by_transition.values()
        )
        if self.current.missing:
            names += f" (none for {', '.join(self.current.missing)})"
        return names

    def describe(self) -> str:
        if self.current is None:
            return "no models loaded"
        return f"still serving {self._names()}"
