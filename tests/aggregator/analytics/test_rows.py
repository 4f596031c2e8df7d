"""The compiled row pass (``consensus.row_figures``) against each figure's definition, row by row."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from scipy.stats import trim_mean

from aggregator.analytics._rows import sorting_network
from aggregator.analytics.consensus import (
    CONSENSUS_METHODS,
    MIN_INDICES_FOR_CONSENSUS,
    MIN_INDICES_FOR_DISSENT,
    consensus_by_rows,
    row_figures,
    row_nanmedian,
)

NAN = np.nan

# few distinct values, so ties are common; up to 9 columns, beyond any power of two's network
shapes = st.tuples(st.integers(0, 25), st.integers(1, 9))
tables = arrays(np.float64, shapes, elements=st.one_of(st.integers(0, 9).map(float), st.just(NAN)))
# a real infinity sorts with the values, not with the missing ones
with_infinity = arrays(np.float64, shapes, elements=st.one_of(st.integers(0, 9).map(float), st.just(NAN),
                                                              st.just(np.inf), st.just(-np.inf)))


def by_definition(method: str, row: np.ndarray, standing: np.ndarray) -> float:
    present = row[~np.isnan(row)]
    if present.size < MIN_INDICES_FOR_CONSENSUS:
        return NAN
    if method == "median":
        return float(np.median(present))
    if method == "trimmed_mean":
        return float(trim_mean(present, 0.25))
    return float(np.nansum(standing) / present.size)


def median_of_others(row: np.ndarray, j: int) -> float:
    others = np.delete(row, j)
    others = others[~np.isnan(others)]
    return float(np.median(others)) if others.size else NAN


def same(got: float, expected: float) -> bool:
    return bool(np.isnan(got) and np.isnan(expected)) or got == pytest.approx(expected, rel=1e-12)


@settings(max_examples=150, deadline=None)
@given(values=tables, layout=st.sampled_from(["C", "F"]), method=st.sampled_from(sorted(CONSENSUS_METHODS)))
def test_every_row_figure_is_its_definition(values, layout, method):
    values = np.asarray(values, order=layout)
    # Borda reads the standing, not the normalized scores: give it other numbers, same gaps
    standing = np.where(np.isnan(values), NAN, np.arange(values.size).reshape(values.shape) % 7 * 10.0)
    found = row_figures(values, standing, method)
    for i, row in enumerate(values):
        present = np.sort(row[~np.isnan(row)])
        n = present.size
        assert found.n_indices[i] == n
        assert same(found.consensus[i], by_definition(method, row, standing[i]))
        enough = n >= MIN_INDICES_FOR_CONSENSUS
        assert same(found.iqr[i], np.quantile(present, 0.75) - np.quantile(present, 0.25) if enough else NAN)
        assert same(found.spread[i], present[-1] - present[0] if enough else NAN)
        gaps = [abs(row[j] - median_of_others(row, j)) for j in range(row.size)]
        if n >= MIN_INDICES_FOR_DISSENT:
            widest = max(g for g in gaps if not np.isnan(g))
            assert found.dissenter[i] == next(j for j, g in enumerate(gaps) if g == widest)
            assert same(found.dissent_gap[i], widest)
        else:
            assert found.dissenter[i] == -1 and np.isnan(found.dissent_gap[i])
        for j in range(row.size):
            left = np.delete(row, j)
            expected = by_definition(method, left, np.delete(standing[i], j))
            assert same(found.without[i, j], expected), (i, j)
    np.testing.assert_array_equal(consensus_by_rows(method, values, standing), found.consensus)


@settings(max_examples=80, deadline=None)
@given(values=with_infinity)
def test_row_nanmedian_is_numpys_nanmedian(values):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # numpy's "All-NaN slice": the pass stays silent
        expected = np.nanmedian(values, axis=1)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        np.testing.assert_array_equal(row_nanmedian(values), expected)


@pytest.mark.parametrize("method", sorted(CONSENSUS_METHODS))
def test_read_only_integer_and_strided_tables_give_the_same_rows(method):
    values = np.array([[1, 7, 3, 4], [2, 2, 5, 9], [8, 1, 1, 6]])
    expected = consensus_by_rows(method, values.astype(float), values.astype(float))
    frozen = values.astype(float)
    frozen.flags.writeable = False  # as an Arrow column's numpy view arrives
    strided = np.hstack([values, values]).astype(float)[:, :4]  # rows 8 apart: neither C nor F
    for table in (values, frozen, strided):
        np.testing.assert_array_equal(consensus_by_rows(method, table, table), expected)
        np.testing.assert_array_equal(row_figures(table, np.asarray(table, dtype=float), method).consensus, expected)


def test_the_row_pass_numbers_the_methods_as_consensus_lists_them():
    from aggregator.analytics import _rows

    assert [CONSENSUS_METHODS.index(name) for name in ("median", "trimmed_mean", "borda")] == [
        _rows.MEDIAN, _rows.TRIMMED_MEAN, _rows.BORDA]


@pytest.mark.parametrize("k", range(1, 15))
def test_sorting_network_sorts_every_zero_one_input(k):
    # the 0-1 principle: a comparator network that sorts all 2^k rows of zeros and ones sorts everything
    rows = ((np.arange(2**k)[:, None] >> np.arange(k)) & 1).astype(float)
    for a, b in sorting_network(k):
        rows[:, a], rows[:, b] = np.minimum(rows[:, a], rows[:, b]), np.maximum(rows[:, a], rows[:, b])
    assert np.all(np.diff(rows, axis=1) >= 0)
