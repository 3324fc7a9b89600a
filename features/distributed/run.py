"""Run one pure function per partition of whole leads on the cluster, in order, with progress.

Each task gets its partition's raw tables and its index; what it returns comes back to this
process (so tasks that write their own part files return only counts). A task's error (a table
breaking the contract) is raised here as the same error.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

Progress = Callable[[str], None]


def run_partitions(
    client: Any,
    parts: Sequence[object],
    task: Callable[..., Any],
    *args: Any,
    progress: Progress | None = None,
    what: str = "partitions",
    **kwargs: Any,
) -> list[Any]:
    """``task(tables, index, *args, **kwargs)`` for every partition, results in partition
    order. Progress every tenth of the partitions (and at the end)."""
    import dask
    from distributed import as_completed

    tasks = [
        dask.delayed(task, pure=False)(part, index, *args, **kwargs)
        for index, part in enumerate(parts)
    ]
    futures = client.compute(tasks)
    position = {future.key: i for i, future in enumerate(futures)}
    results: list[Any] = [None] * len(futures)
    step = max(1, len(futures) // 10)
    try:
        for done, future in enumerate(as_completed(futures), start=1):
            results[position[future.key]] = future.result()
            future.release()
            if progress and (done % step == 0 or done == len(futures)):
                progress(f"{what}: {done:,}/{len(futures):,} partitions done")
    finally:
        for future in futures:
            future.cancel()
    return results
