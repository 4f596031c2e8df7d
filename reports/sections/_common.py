"""What several sections (and :mod:`reports.model`) share: the base of every view class, summary
lines, rounding, and how standings read in words.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np
from numpy.typing import NDArray
from pydantic import BaseModel, ConfigDict

from aggregator.models import Subject, Subjects


class View(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class SummaryLine(View):
    text: str
    tone: Literal["info", "problem"] = "info"


# --- small formatting helpers -----------------------------------------------------------------


def names_of(subjects: Sequence[Subject]) -> Sequence[str]:
    """The subjects' names in order; from a columnar roster without building a Subject each."""
    return subjects.names if isinstance(subjects, Subjects) else tuple(s.name for s in subjects)


def ordinal(n: int) -> str:
    """``1st``, ``2nd``, ``3rd``, ``11th``, ``92nd``.

    >>> [ordinal(n) for n in (1, 2, 3, 4, 11, 12, 13, 21, 92, 100)]
    ['1st', '2nd', '3rd', '4th', '11th', '12th', '13th', '21st', '92nd', '100th']
    """
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def index_label(name: str) -> str:
    """How an index name (a config key) reads in prose: ``empire_avenue`` -> ``Empire Avenue``."""
    return " ".join(part.capitalize() for part in name.replace("-", " ").replace("_", " ").split())


def half_up(values: NDArray[np.float64], digits: int) -> NDArray[np.float64]:
    scale = 10.0**digits
    return np.floor(values * scale + 0.5) / scale


def highest_first(key: NDArray[np.float64], rows: NDArray[np.intp]) -> NDArray[np.intp]:
    """``rows`` in the order a stable sort of all rows by ``key``, highest first, puts them (ties by row).

    >>> highest_first(np.array([5.0, 9.0, 5.0, 7.0]), np.array([2, 0, 1])).tolist()
    [1, 0, 2]
    """
    rows = np.asarray(rows, dtype=np.intp)
    return rows[np.lexsort((rows, -key[rows]))]


def top_rows(key: NDArray[np.float64], k: int) -> NDArray[np.intp]:
    """``np.argsort(-key, kind="stable")[:k]`` without sorting every row: a partition finds the
    ``k``-th highest value, and only the rows at or above it (ties included) are sorted.

    ``key`` must hold no NaN (callers map "no value" to a value below every real one).

    >>> top_rows(np.array([3.0, 9.0, 3.0, 1.0, 9.0]), 3).tolist()
    [1, 4, 0]
    """
    n = len(key)
    k = max(0, min(k, n))
    if k == 0:
        return np.zeros(0, dtype=np.intp)
    if k * 4 >= n:  # most of the rows anyway: the plain sort
        return np.argsort(-key, kind="stable")[:k].astype(np.intp)
    kth = np.partition(key, n - k)[n - k]
    return highest_first(key, np.flatnonzero(key >= kth))[:k]


def bottom_rows(key: NDArray[np.float64], k: int) -> NDArray[np.intp]:
    """``np.argsort(-key, kind="stable")[-k:]`` (the last ``k`` in that order) without sorting every row.

    >>> bottom_rows(np.array([3.0, 9.0, 3.0, 1.0, 9.0]), 2).tolist()
    [2, 3]
    """
    n = len(key)
    k = max(0, min(k, n))
    if k == 0:
        return np.zeros(0, dtype=np.intp)
    if k * 4 >= n:
        return np.argsort(-key, kind="stable")[n - k:].astype(np.intp)
    kth = np.partition(key, k - 1)[k - 1]
    return highest_first(key, np.flatnonzero(key <= kth))[-k:]


def opt_float(value: float) -> float | None:
    return None if np.isnan(value) else float(value)


def opt_int(value: float) -> int | None:
    return None if np.isnan(value) else int(value)


def plural(n: int, word: str, words: str | None = None) -> str:
    return f"{n:,} {word if n == 1 else (words or word + 's')}"


def join(items: Sequence[str]) -> str:
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


# --- method wording ---------------------------------------------------------------------------


class Wording:
    """How standings read under one normalization method."""

    def __init__(self, method: str) -> None:
        self.percentile = method == "percentile"

    @property
    def label(self) -> str:
        return "percentile" if self.percentile else "score (0-100)"

    @property
    def plural(self) -> str:
        return "percentiles" if self.percentile else "0-100 scores"

    def at(self, standing: int) -> str:
        return f"at the {ordinal(standing)} percentile" if self.percentile else f"at {standing} of 100"

    def near(self, standing: int) -> str:
        return f"near the {ordinal(standing)}" if self.percentile else f"near {standing}"

    def bare(self, standing: int) -> str:
        return f"at the {ordinal(standing)}" if self.percentile else f"at {standing}"


def points_text(value: float) -> str:
    """A threshold in points as it reads: one decimal at most (``48.8``, ``25``)."""
    return f"{float(half_up(np.array([value]), 1)[0]):g}"
