"""How the ``aggregator`` command's process keeps the memory it frees, for its next array (glibc).

A comparison of a million subjects allocates and frees a few hundred arrays of 1-40 MB. glibc
hands blocks that large straight back to the kernel (each one mapped on its own above a
threshold, and the top of the heap trimmed above another), so the next array of the same size is
fresh memory again: ~60,000 page faults a comparison, a tenth of its time in the kernel
(``bench/analytics.py``). With both thresholds raised, a freed block stays in the heap for the
next one. A command that ends after one run needs its peak either way, and gives all of it back
at exit; the scheduler, which lives on between deliveries, gives back what it freed after each
one (:func:`give_back`).

Elsewhere than glibc (macOS, musl, Windows) both are no-ops. A user who set glibc's own
``MALLOC_MMAP_THRESHOLD_`` or ``MALLOC_TRIM_THRESHOLD_`` keeps what they chose.
"""

from __future__ import annotations

import ctypes
import logging
import os
import platform
from functools import cache

log = logging.getLogger(__name__)

#: mallopt's parameters (malloc.h)
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
#: blocks below this come from the heap and return to it (numpy tables of 32M floats and more still
#: map their own); the heap top is trimmed only past the largest value mallopt takes
MMAP_THRESHOLD = 1 << 30
TRIM_THRESHOLD = (1 << 31) - 1
#: the environment variables through which glibc itself reads the two thresholds
GLIBC_SETTINGS = ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_")


@cache
def _glibc() -> ctypes.CDLL | None:
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return None
    try:
        return ctypes.CDLL(None)  # the process's own symbols: glibc's malloc is among them
    except OSError:  # pragma: no cover - a Linux without a loadable main program
        return None


def keep_freed() -> bool:
    """Raise glibc's thresholds so freed blocks stay in the heap; True if they were raised."""
    libc = _glibc()
    if libc is None or any(name in os.environ for name in GLIBC_SETTINGS):
        return False
    # the trim threshold alone would also stop glibc adapting the map threshold upward, so that every
    # block of 128 KB or more got a mapping of its own (ten times the faults): both, or neither
    if libc.mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD) != 1:
        return False
    if libc.mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD) != 1:  # pragma: no cover - glibc accepts any int
        log.debug("mallopt(M_TRIM_THRESHOLD) refused")
    return True


def give_back() -> None:
    """Return the heap's free memory to the kernel (``malloc_trim``): for a process that lives on."""
    libc = _glibc()
    if libc is not None:
        libc.malloc_trim(0)
