"""The command line's progress display, always on stderr (stdout holds only results).

It is the ``progress`` callback the commands hand to library code (``core.progress``). On an
interactive terminal each counted step is a rich bar with its count, elapsed time and time
left, removed when the step ends; lines are printed above it. Anywhere else (CI, a log file, a
pipe) it writes plain lines only: a counted step's line when it starts, its notes, a line with
the count and time left at most every ``every_s`` seconds, and one when it ends.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field
from typing import TextIO

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.progress import Progress as Bars

__all__ = ["StderrProgress"]


@dataclass
class _Step:
    task: str
    total: int
    unit: str
    started: float = field(default_factory=time.monotonic)
    done: int = 0
    shown: float = field(default_factory=time.monotonic)
    bar: int | None = None  # the rich task id on a terminal


class StderrProgress:
    """Progress on stderr: bars on a terminal, plain lines elsewhere (see the module).

    ``stream``: where to write (default: ``sys.stderr`` as it is when writing, so a test that
    captures stderr sees it). ``interactive``: force bars on or off (default: rich decides from
    the stream, ``TERM`` and ``TTY_INTERACTIVE``).
    """

    def __init__(
        self,
        stream: TextIO | None = None,
        *,
        interactive: bool | None = None,
        every_s: float = 30.0,
    ) -> None:
        self._stream = stream
        self._interactive = interactive
        self.every_s = every_s
        self._steps: list[_Step] = []
        self._bars: Bars | None = None

    # -- lines ---------------------------------------------------------------------------------
    def __call__(self, message: str) -> None:
        """One line; above the bars while a counted step is shown."""
        if self._bars is not None:
            self._bars.console.print(message, markup=False, highlight=False, soft_wrap=True)
        else:
            stream = self._stream or sys.stderr
            stream.write(message + "\n")
            stream.flush()

    # -- counted steps (core.progress.counted) -------------------------------------------------
    def begin(self, task: str, total: int, unit: str) -> None:
        step = _Step(task, max(int(total), 0), unit)
        self._steps.append(step)
        bars = self._bars or self._start_bars()
        if bars is None:
            self(f"{task}: {_count(step)}")
        else:
            step.bar = bars.add_task(task, total=step.total, unit=unit)

    def advance(self, done: int, note: str | None = None) -> None:
        if not self._steps:
            return
        step = self._steps[-1]
        step.done = min(int(done), step.total)
        if self._bars is not None and step.bar is not None:
            update = {"completed": step.done}
            if note:
                update["description"] = f"{step.task}: {note}"
            self._bars.update(step.bar, **update)
            return
        if note:
            self(f"{step.task}: {note}")
        now = time.monotonic()
        if now - step.shown >= self.every_s and step.done < step.total:
            step.shown = now
            self(f"{step.task}: {_count(step)}, {_elapsed(step, now)}{_left(step, now)}")

    def end(self) -> None:
        if not self._steps:
            return
        step = self._steps.pop()
        if self._bars is not None and step.bar is not None:
            self._bars.remove_task(step.bar)
            if not self._steps:
                self._bars.stop()
                self._bars = None
            return
        self(f"{step.task}: {_count(step)} in {_seconds(time.monotonic() - step.started)}")

    def _start_bars(self) -> Bars | None:
        """Bars when the stream is an interactive terminal, else None (plain lines)."""
        console = Console(
            file=self._stream or sys.stderr, force_interactive=self._interactive, highlight=False
        )
        if self._interactive is False or not console.is_interactive:
            return None
        self._bars = Bars(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[unit]}"),
            TimeElapsedColumn(),
            TextColumn("elapsed,"),
            TimeRemainingColumn(),
            TextColumn("left"),
            console=console,
            transient=True,
            redirect_stdout=False,  # results stay on stdout, never drawn into the display
        )
        self._bars.start()
        return self._bars


def _count(step: _Step) -> str:
    return f"{step.done:,}/{step.total:,} {step.unit}"


def _seconds(seconds: float) -> str:
    return f"{seconds:.1f} s" if seconds < 60 else f"{int(seconds // 60)} min {seconds % 60:.0f} s"


def _elapsed(step: _Step, now: float) -> str:
    return f"{_seconds(now - step.started)} so far"


def _left(step: _Step, now: float) -> str:
    """Time left at the pace so far; nothing before the first unit is done."""
    if step.done <= 0:
        return ""
    left = (now - step.started) / step.done * (step.total - step.done)
    return f", about {_seconds(left)} left"
