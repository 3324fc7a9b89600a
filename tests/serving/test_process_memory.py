"""A server worker keeps the memory a batch frees for the next batch
(``serving.runtime.process_memory``).

Each case runs in its own interpreter: malloc's settings are process-wide.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

# a batch's pattern: arrays of some hundred kB alive together in the scoring thread, all freed
# at its end (glibc trims the freed top of the thread's heap, and the next batch faults it in)
_FAULTS_PER_BATCH = """
import resource, sys
from concurrent.futures import ThreadPoolExecutor
import numpy as np
from serving.runtime.process_memory import keep_freed_memory
if sys.argv[1] == "keep":
    assert keep_freed_memory()
def batch():
    arrays = [np.ones(60_000) for _ in range(10)]
    return sum(a[0] for a in arrays)
thread = ThreadPoolExecutor(1)
thread.submit(batch).result()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(50):
    thread.submit(batch).result()
print((resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) / 50)
"""


def _page_faults_per_batch(mode: str) -> float:
    out = subprocess.run(
        [sys.executable, "-c", _FAULTS_PER_BATCH, mode],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return float(out.stdout)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc")
def test_a_batch_reuses_what_the_last_one_freed_without_asking_the_kernel_again():
    # 4.8 MB of arrays are some 1,200 pages: by default nearly all are faulted in again
    assert _page_faults_per_batch("default") > 500
    assert _page_faults_per_batch("keep") < 20
