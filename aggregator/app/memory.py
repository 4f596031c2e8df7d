"""How the ``aggregator`` command's process handles memory: what it frees is kept for its next arrays
(glibc), and numpy asks for no huge pages.

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

numpy also asks Linux to back every large array with huge pages (``madvise``). Where the kernel's
huge pages are "madvise" only and a fault on such memory compacts memory first (the common
defrag setting), each first touch can wait on that compaction: the process's first comparison
of a million subjects spent 3.3-3.6 s in the kernel for ~39,000 faults, against 0.2 s for
~130,000 ordinary ones without the advice (its own arithmetic: 2.2 s). Once its memory is in, a
process compares about 10 % faster on huge pages (fewer misses of the address cache); but the
command compares once a process, so it goes without the advice (:func:`no_huge_page_advice`). A
user who set numpy's ``NUMPY_MADVISE_HUGEPAGE`` keeps that.
"""

from __future__ import annotations

import os
import sys
from functools import cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import ctypes

#: mallopt's parameters (malloc.h)
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
#: blocks below this come from the heap and return to it (numpy tables of 32M floats and more still
#: map their own); the heap top is trimmed only past the largest value mallopt takes
MMAP_THRESHOLD = 1 << 30
TRIM_THRESHOLD = (1 << 31) - 1
#: the environment variables through which glibc itself reads the two thresholds
GLIBC_SETTINGS = ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_")
#: numpy's own switch for its huge-page advice, read when numpy is imported
NUMPY_HUGE_PAGES = "NUMPY_MADVISE_HUGEPAGE"


def set_up() -> None:
    """The process as the ``aggregator`` command runs: freed memory kept, no huge-page advice."""
    keep_freed()
    no_huge_page_advice()


def on_glibc() -> bool:
    """Whether this process runs on glibc (asked of the C library itself: no scan of the executable)."""
    try:
        return (os.confstr("CS_GNU_LIBC_VERSION") or "").startswith("glibc")
    except (AttributeError, ValueError, OSError):  # no confstr (Windows), or a C library that does not know it
        return False


@cache
def _glibc() -> ctypes.CDLL | None:
    if not on_glibc():
        return None
    import ctypes  # only where it is used: every command starts here

    return ctypes.CDLL(None)  # the process's own symbols: glibc's malloc is among them


def keep_freed() -> bool:
    """Raise glibc's thresholds so freed blocks stay in the heap; True if they were raised."""
    libc = _glibc()
    if libc is None or any(name in os.environ for name in GLIBC_SETTINGS):
        return False
    # the trim threshold alone would also stop glibc adapting the map threshold upward, so that every
    # block of 128 KB or more got a mapping of its own (ten times the faults): the map threshold first,
    # and the trim threshold only once it is set
    if libc.mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD) != 1:
        return False
    return bool(libc.mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD) == 1)


def no_huge_page_advice() -> bool:
    """Stop numpy advising huge pages for its arrays (see the module docstring); True if stopped.

    Through numpy's own variable, so that numpy need not be imported here (most commands start
    without it); a numpy already imported is told through its toggle as well.
    """
    if NUMPY_HUGE_PAGES in os.environ:
        return False
    os.environ[NUMPY_HUGE_PAGES] = "0"
    numpy = sys.modules.get("numpy")
    if numpy is not None:
        core = getattr(numpy, "_core", None) or numpy.core  # numpy 2, numpy 1.26
        core.multiarray._set_madvise_hugepage(False)
    return True


def give_back() -> None:
    """Return the heap's free memory to the kernel (``malloc_trim``): for a process that lives on."""
    libc = _glibc()
    if libc is not None:
        libc.malloc_trim(0)
