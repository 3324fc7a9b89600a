"""How long jobs report progress: library code calls a callback and never draws.

``Progress`` is any callable taking one line: ``print``, ``list.append`` in a test, or the
command line's display (``leadscore.progress``), which writes to stderr so stdout holds only
results. A step whose size is known before it starts (the stages of a simulation, boosting
rounds, bootstrap resamples) is reported through ``counted``: a display that counts
(``Counter``) gets every update and can draw a bar with the time left; any other callback gets
the step's line when it starts and its notes, the same lines as before there was a bar.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Protocol, runtime_checkable

__all__ = ["Counter", "Progress", "Step", "counted"]

Progress = Callable[[str], None]
# step(done, note=None): ``done`` units of the step finished so far; ``note`` names what runs now
Step = Callable[..., None]


@runtime_checkable
class Counter(Protocol):
    """A progress display that also follows counted steps (they may nest: updates go to the
    innermost one still open)."""

    def __call__(self, message: str) -> None: ...

    def begin(self, task: str, total: int, unit: str) -> None: ...

    def advance(self, done: int, note: str | None = None) -> None: ...

    def end(self) -> None: ...


@contextmanager
def counted(progress: Progress | None, task: str, total: int, unit: str) -> Iterator[Step]:
    """A step of ``total`` units (``unit`` in words: "trees", "resamples"); yields ``step`` to
    call with the units finished so far and, when a new stage starts, a note naming it.

    ``task`` reads as a line on its own ("[mql_to_sql] boosting trees"), and ``task: note`` too
    ("simulating 20,000 leads: organic touches"). The step ends when the
    block does, also by an exception, so a display never keeps a bar over an error message.
    """
    if isinstance(progress, Counter):
        progress.begin(task, total, unit)
        try:
            yield progress.advance
        finally:
            progress.end()
        return
    say = progress or _silent

    def step(done: int, note: str | None = None) -> None:
        if note:
            say(f"{task}: {note}")

    say(task)
    yield step


def _silent(_message: str) -> None:
    return None
