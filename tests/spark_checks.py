"""Comparing what the Spark engine read back (lists, None for null) with the numpy engine's arrays (NaN)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

#: the Spark engine's numbers equal the numpy engine's within this
TOLERANCE = 1e-9


def arrays(values: Sequence[Sequence[float | None]]) -> np.ndarray:
    return np.array([[np.nan if v is None else v for v in row] for row in values], dtype=float).reshape(len(values), -1)


def column(values: Sequence[float | None]) -> np.ndarray:
    return np.array([np.nan if v is None else v for v in values], dtype=float)


def assert_close(got: np.ndarray, expected: np.ndarray, what: str) -> None:
    got, expected = np.asarray(got, dtype=float), np.asarray(expected, dtype=float)
    assert got.shape == expected.shape, what
    assert np.array_equal(np.isnan(got), np.isnan(expected)), f"{what}: missing values differ"
    both = ~np.isnan(expected)
    if np.any(both):
        assert np.max(np.abs(got[both] - expected[both])) <= TOLERANCE, f"{what}: {got} != {expected}"
