"""How a server worker holds its memory, set once after its models load.

A 1,000-lead batch allocates and frees a few arrays of hundreds of kB (the model's input
matrix, feature columns). glibc hands each of these to the kernel and back (``mmap`` above
its threshold, and trimming the heap's free top), so every batch paid about 1,200 page faults,
2-3 ms of system time, for memory it had just given up. A worker keeps it instead.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import logging

log = logging.getLogger(__name__)

# mallopt parameters (glibc's malloc.h)
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
# glibc's largest mmap threshold on 64-bit systems: allocations below it come from the heap
_MMAP_THRESHOLD = 32 * 1024 * 1024
# free memory at the heap's top kept for the next batch rather than trimmed
_TRIM_THRESHOLD = 256 * 1024 * 1024


def freeze_loaded_objects() -> None:
    """Take the objects alive now (libraries and models, some 400,000) out of the garbage
    collector's sight (``gc.freeze``): a batch keeps enough objects alive for a while to set
    off full collections, which otherwise walk all of them, 8-11 ms of a batch."""
    gc.collect()
    gc.freeze()


def keep_freed_memory() -> bool:
    """Make glibc's malloc reuse freed blocks of up to 32 MiB and keep up to 256 MiB of free
    heap, instead of returning them to the kernel. False (and nothing changed) where the C
    library is not glibc."""
    name = ctypes.util.find_library("c")
    try:
        mallopt = ctypes.CDLL(name).mallopt
    except (OSError, AttributeError, TypeError):
        log.info("no mallopt in the C library (%s): memory settings left as they are", name)
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    return bool(
        mallopt(_M_MMAP_THRESHOLD, _MMAP_THRESHOLD) and mallopt(_M_TRIM_THRESHOLD, _TRIM_THRESHOLD)
    )
