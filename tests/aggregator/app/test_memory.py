"""The command's process keeps freed memory for its next arrays, and the scheduler gives it back;
numpy advises no huge pages.

Each case runs in a fresh interpreter (the thresholds are the whole process's), and reads the
kernel's own counters: minor page faults (``getrusage``) and the resident set (``/proc/self/statm``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from aggregator.app.memory import on_glibc

pytestmark = pytest.mark.skipif(not on_glibc(), reason="glibc's malloc only")

#: allocate a 64 MB table, write it, free it, three times: the faults of the last two
CHURN = """
import json, os, resource, sys
import numpy as np
from aggregator.app.memory import give_back, keep_freed

kept = keep_freed() if sys.argv[1] == "keep" else None
faults = []
for _ in range(3):
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    table = np.ones(8_000_000)
    del table
    faults.append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)

def resident_mb():
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20

held = resident_mb()
give_back()
print(json.dumps({"kept": kept, "faults": faults[1:], "held_mb": held, "after_give_back_mb": resident_mb()}))
"""


def churn(mode: str, **env: str) -> dict[str, object]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")}
    done = subprocess.run([sys.executable, "-c", CHURN, mode], env={**clean, **env}, capture_output=True,
                          text=True, check=True, timeout=60)
    found: dict[str, object] = json.loads(done.stdout)
    return found


def test_freed_tables_are_reused_instead_of_faulted_in_again():
    plain, kept = churn("plain"), churn("keep")
    assert kept["kept"] is True
    # without the setting glibc maps each 64 MB table anew: a fault every 4 KB page, or every 2 MB one
    # where numpy gets transparent huge pages; with it, the table reuses the heap the last one freed
    plain_faults: list[int] = plain["faults"]  # type: ignore[assignment]
    kept_faults: list[int] = kept["faults"]  # type: ignore[assignment]
    assert all(f >= 32 for f in plain_faults)
    assert all(10 * f < p for f, p in zip(kept_faults, plain_faults, strict=True))


def test_give_back_returns_the_kept_memory_to_the_kernel():
    kept = churn("keep")
    assert kept["held_mb"] - kept["after_give_back_mb"] > 40  # type: ignore[operator]


def test_a_users_own_glibc_setting_is_left_alone():
    assert churn("keep", MALLOC_TRIM_THRESHOLD_="1000000")["kept"] is False


#: numpy's huge-page advice after ``no_huge_page_advice``, with numpy imported before it or after
ADVICE = """
import json, sys
from aggregator.app.memory import no_huge_page_advice
if sys.argv[1] == "before":
    import numpy
stopped = no_huge_page_advice()
import numpy
core = getattr(numpy, "_core", None) or numpy.core  # numpy 2, numpy 1.26
print(json.dumps({"stopped": stopped, "advises": bool(core.multiarray._get_madvise_hugepage())}))
"""


def advice(when: str, **env: str) -> dict[str, bool]:
    clean = {k: v for k, v in os.environ.items() if k != "NUMPY_MADVISE_HUGEPAGE"}
    done = subprocess.run([sys.executable, "-c", ADVICE, when], env={**clean, **env}, capture_output=True,
                          text=True, check=True, timeout=60)
    found: dict[str, bool] = json.loads(done.stdout)
    return found


@pytest.mark.parametrize("when", ["before", "after"])
def test_numpy_advises_no_huge_pages_whenever_it_was_imported(when):
    assert advice(when) == {"stopped": True, "advises": False}


def test_a_users_own_numpy_setting_is_left_alone():
    assert advice("before", NUMPY_MADVISE_HUGEPAGE="1") == {"stopped": False, "advises": True}
