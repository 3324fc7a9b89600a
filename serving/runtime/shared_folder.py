"""The folder the workers of one server share (``serving.scoring.generation``): made fresh by
``leadscore serve`` before any worker starts, holding the models it checked as generation 1,
handed to the workers in ``LEADSCORE_RUNTIME_DIR`` (each builds its app from the environment,
whichever supervisor starts it) and removed when the server stops."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from serving.scoring.generation import SharedGeneration
from serving.scoring.served import Models

RUNTIME_DIR_ENV = "LEADSCORE_RUNTIME_DIR"


@contextmanager
def shared_folder(models: Models) -> Iterator[Path]:
    """A new shared folder whose first generation is ``models``, named in the environment while
    the block runs (the variable's earlier value comes back after it)."""
    folder = Path(tempfile.mkdtemp(prefix="leadscore-serve-"))  # mode 0700: this user's alone
    previous = os.environ.get(RUNTIME_DIR_ENV)
    try:
        shared = SharedGeneration(folder)
        try:
            shared.publish(shared.stage(models))
        finally:
            shared.close()
        del models  # the workers load their own copies; this process serves nothing
        os.environ[RUNTIME_DIR_ENV] = str(folder)
        yield folder
    finally:
        if previous is None:
            os.environ.pop(RUNTIME_DIR_ENV, None)
        else:
            os.environ[RUNTIME_DIR_ENV] = previous
        shutil.rmtree(folder, ignore_errors=True)
