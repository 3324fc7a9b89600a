"""The Dask client of one command: a scheduler's address for a real cluster, else a
``LocalCluster`` sized to this machine (one single-threaded worker process per core).

Worker processes, one thread each: the feature steps are numpy/pandas code that holds the GIL
for long stretches, and LightGBM's Dask training wants one worker per machine slot.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager

from core.errors import InputError


@contextmanager
def dask_client(
    scheduler: str | None,
    *,
    workers: int | None = None,
    memory_limit: str | int = "auto",
) -> Iterator[object]:
    """A ``distributed.Client`` for the length of the block, closed after it.

    ``scheduler``: ``tcp://host:8786`` of a running cluster; an address that does not answer
    within Dask's connect timeout (``distributed.comm.timeouts.connect``, 30 s unless
    ``DASK_DISTRIBUTED__COMM__TIMEOUTS__CONNECT`` says otherwise) is an ``InputError`` naming
    it. None: a ``LocalCluster`` of
    ``workers`` processes (default: one per core) with ``memory_limit`` each ("auto": the
    machine's memory shared out).
    """
    from distributed import Client, LocalCluster

    logging.getLogger("distributed").setLevel(logging.ERROR)  # progress is ours to report
    if scheduler:
        try:
            client = Client(scheduler)
        except (OSError, TimeoutError, ValueError) as error:
            reason = str(error).splitlines()[0] if str(error) else type(error).__name__
            raise InputError(
                f"--scheduler {scheduler}: cannot reach the Dask scheduler ({reason})"
            ) from error
        try:
            yield client
        finally:
            client.close()
        return
    cluster = LocalCluster(
        n_workers=workers or max(1, os.cpu_count() or 1),
        threads_per_worker=1,
        processes=True,
        memory_limit=memory_limit,
        dashboard_address=None,
    )
    client = Client(cluster)
    client.run(_stdout_to_stderr)  # the workers' prints must not mix into our stdout (--json)
    try:
        yield client
    finally:
        client.close()
        cluster.close()


def _stdout_to_stderr() -> None:
    """In a local worker process: file descriptor 1 (which it shares with this command's
    stdout) pointed at stderr, so libraries printing there (LightGBM's network set-up) end
    up with the progress lines."""
    import sys

    sys.stdout.flush()
    os.dup2(2, 1)


def worker_count(client: object) -> int:
    """Workers the scheduler knows of now."""
    return max(1, len(client.scheduler_info()["workers"]))
