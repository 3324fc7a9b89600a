"""The reload generation the workers of one server share, in the folder ``leadscore serve`` makes
for them (``Settings.runtime_dir``).

A reload is published there before it is answered: the bundles of generation N in
``generation-N/``, then ``generation.json`` naming N and, per transition served, the registered
name, version, alias and source of the bundle (per transition without a champion, why: the
``missing`` entry), then N in the 8-byte counter file ``generation`` that
every worker keeps mapped in memory. Reading the counter costs about 0.1 µs (a ``stat`` of a file
4-10 µs on the development machine), so every request can afford it; a worker that finds it moved
loads exactly the bundles ``generation.json`` names (so all workers serve the same versions,
even if the alias moved since) before it scores. ``generation.json`` is the authority and is
replaced whole (a temporary file, then ``os.replace``) before the counter moves, so whoever sees
the counter move reads the new record; a torn read of the counter only sends a worker to read
the record once more. Writers hold an exclusive ``flock`` on ``lock``, so two reloads at once get
two numbers, and the later one wins everywhere. The two latest generations' bundles are kept.

Each worker also records what it serves in ``workers/<pid>-<token>.json``, so any worker can
list every live one (``/v1/models``).
"""

from __future__ import annotations

import fcntl
import json
import logging
import mmap
import os
import secrets
import shutil
import struct
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import joblib

from serving.scoring.served import Models, Unserved

log = logging.getLogger(__name__)
COUNTER, RECORD, LOCK, WORKERS = "generation", "generation.json", "lock", "workers"
_NUMBER = struct.Struct("<Q")
_KEPT = 2  # generations whose bundles stay: the latest, and the one a slow worker may still load


@dataclass(frozen=True)
class Published:
    """One transition's model in a generation: where it came from, and its bundle file."""

    name: str
    version: str | None
    alias: str | None
    source: str
    bundle: Path


@dataclass(frozen=True)
class Generation:
    """Attributes: number (1 for the models the server started with, one more per reload);
    models: per transition, what every worker of the server is to serve; missing: the
    transitions it has no model for (no champion when it was loaded), and why."""

    number: int
    models: dict[str, Published]
    missing: dict[str, Unserved] = field(default_factory=dict)


@dataclass(frozen=True)
class Staged:
    """Bundles written aside (``SharedGeneration.stage``), not yet a generation."""

    folder: Path
    models: dict[str, dict[str, Any]]
    missing: dict[str, dict[str, str]] = field(default_factory=dict)


def _write_whole(path: Path, data: bytes) -> None:
    """``path`` holds ``data`` entirely or keeps what it held: readers never see half a file."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    try:
        temporary.write_bytes(data)
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return True


def worker_entry(worker: str, generation: int, models: Models) -> dict[str, Any]:
    """What a worker (named ``<pid>-<token>``) serves, as the listing gives it."""
    return {
        "worker": worker,
        "pid": os.getpid(),
        "generation": generation,
        "versions": {t: m.version for t, m in models.by_transition.items()},
        "missing": sorted(models.missing),
        "loaded_at": models.loaded_at.isoformat(),
    }


class SharedGeneration:
    """The shared folder, opened by one process. Attributes: folder."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        (self.folder / WORKERS).mkdir(parents=True, exist_ok=True)
        with self._locked():
            if not (self.folder / COUNTER).exists():
                _write_whole(self.folder / COUNTER, bytes(_NUMBER.size))
        self._file = (self.folder / COUNTER).open("r+b")
        self._counter = mmap.mmap(self._file.fileno(), _NUMBER.size)

    def close(self) -> None:
        self._counter.close()
        self._file.close()

    @contextmanager
    def _locked(self) -> Iterator[None]:
        with (self.folder / LOCK).open("a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def counter(self) -> int:
        """The latest generation's number as the counter says (0: none yet); read per request."""
        return _NUMBER.unpack_from(self._counter)[0]

    def read(self) -> Generation | None:
        """The latest generation, or None before the first."""
        try:
            record = json.loads((self.folder / RECORD).read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        return self._generation(record["number"], record["models"], record.get("missing", {}))

    def _generation(
        self,
        number: int,
        models: dict[str, dict[str, Any]],
        missing: dict[str, dict[str, str]],
    ) -> Generation:
        return Generation(
            number=int(number),
            models={
                transition: Published(**{**entry, "bundle": self.folder / entry["bundle"]})
                for transition, entry in models.items()
            },
            missing={transition: Unserved(**entry) for transition, entry in missing.items()},
        )

    def stage(self, models: Models) -> Staged:
        """Writes the bundles of ``models`` aside (the slow part of publishing: call it off the
        event loop)."""
        folder = self.folder / f".staging-{os.getpid()}-{secrets.token_hex(4)}"
        folder.mkdir()
        try:
            entries = {}
            for transition, served in models.by_transition.items():
                joblib.dump(served.bundle, folder / f"{transition}.joblib")
                entries[transition] = {
                    "name": served.name,
                    "version": served.version,
                    "alias": served.alias,
                    "source": served.source,
                    "bundle": f"{transition}.joblib",
                }
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            raise
        return Staged(folder, entries, {t: asdict(u) for t, u in models.missing.items()})

    def discard(self, staged: Staged) -> None:
        shutil.rmtree(staged.folder, ignore_errors=True)

    def publish(self, staged: Staged) -> Generation:
        """Makes ``staged`` the next generation: record first, counter last (the module says
        why); returns it. Raises ``OSError`` when the folder cannot be written (nothing moves)."""
        with self._locked():
            latest = self.read()
            number = 1 if latest is None else latest.number + 1
            folder = self.folder / f"generation-{number}"
            os.rename(staged.folder, folder)
            models = {
                transition: {**entry, "bundle": f"{folder.name}/{entry['bundle']}"}
                for transition, entry in staged.models.items()
            }
            record = {
                "number": number,
                "models": models,
                "missing": staged.missing,
                "written_by": os.getpid(),
                "written_at": datetime.now(UTC).isoformat(),
            }
            _write_whole(self.folder / RECORD, json.dumps(record, indent=2).encode())
            _NUMBER.pack_into(self._counter, 0, number)
            for old in self.folder.glob("generation-*"):
                suffix = old.name.removeprefix("generation-")
                if suffix.isdigit() and int(suffix) <= number - _KEPT:
                    shutil.rmtree(old, ignore_errors=True)
        return self._generation(number, models, staged.missing)

    def record_worker(self, worker: str, generation: int, models: Models) -> None:
        """Notes what ``worker`` serves now. A failed write is logged: the listing would miss
        the worker, scoring is not affected."""
        entry = worker_entry(worker, generation, models)
        try:
            _write_whole(self.folder / WORKERS / f"{worker}.json", json.dumps(entry).encode())
        except OSError as error:
            log.warning("could not record what worker %s serves: %s", worker, error)

    def forget_worker(self, worker: str) -> None:
        (self.folder / WORKERS / f"{worker}.json").unlink(missing_ok=True)

    def workers(self) -> list[dict[str, Any]]:
        """What every live worker serves, by pid; records of workers that died are removed."""
        listed = []
        for path in sorted((self.folder / WORKERS).glob("*.json")):
            try:
                entry = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError):  # gone meanwhile (its worker stopped)
                continue
            if _alive(entry["pid"]):
                listed.append(entry)
            else:
                with suppress(OSError):
                    path.unlink()
        return sorted(listed, key=lambda entry: (entry["pid"], entry["worker"]))
