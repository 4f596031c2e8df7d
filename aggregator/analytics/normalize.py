"""Normalizers: each index's raw scores to a common 0-100 scale.

Every normalizer has the same signature: the whole ``[subjects × indices]`` raw array and the
indices' specs in, a new array of the same shape out, NaN (missing) preserved, the input never
mutated. Methods that need the cohort (percentile) need no special case in callers.

- ``percentile`` (the default, "relative standing"): mid-rank percentile among the subjects
  the index scored: ``(rank - 0.5) / n * 100``, ties share their mean rank, so a lone subject
  sits at 50 and no one is at exactly 0 or 100.
- ``range``: the index's documented scale mapped linearly to 0-100. For an unbounded scale
  (a share price, a follower count) a log-range over the cohort: ``log1p(x - min)`` divided by
  its maximum, so the lowest scored subject is 0 and the highest 100.
- ``robust_z``: ``z = (x - median) / (1.4826 * MAD)`` within the index's cohort, mapped to
  0-100 through the normal CDF (50 is the median subject). When more than half the cohort
  shares one value (MAD = 0) the scale falls back to ``1.2533 * mean absolute deviation``
  (the same normal-consistent factor); when every value is equal, everyone stands at 50.
- ``quantile_map``: each index's distribution mapped onto a reference index's, so values read
  in the reference's units: a subject at percentile *p* of its index gets the reference's
  value at percentile *p* (linear between the reference's own mid-rank points). The
  reference's units are its ``range`` normalization, i.e. 0-100 over its documented scale, so
  an in-house score published on 0-100 reads exactly in its own points. Name the reference
  as ``quantile_map:NAME``; plain ``quantile_map`` uses an index named ``inhouse`` if there is
  one, else the index that scored the most subjects (the first of equals). A reference that
  scored nobody leaves only the uniform 0-100 distribution to map onto, which is the
  percentile.

Indices where lower is better are flipped, so 100 is always "most influential".
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from aggregator.analytics._arrays import FloatArray, Ranked, column_median, median_in_place, rank_column
from aggregator.errors import ConfigError
from aggregator.models import IndexSpec

Normalizer = Callable[[FloatArray, Sequence[IndexSpec]], FloatArray]

NORMALIZERS: dict[str, Normalizer] = {}
#: The index ``quantile_map`` maps onto when present and no reference is named.
DEFAULT_REFERENCE = "inhouse"
#: 1 / Phi^-1(3/4): scales a median absolute deviation to a normal standard deviation.
MAD_TO_SD = 1.4826
#: sqrt(pi / 2): scales a mean absolute deviation to a normal standard deviation.
MEAN_AD_TO_SD = 1.2533


def normalizer(name: str) -> Callable[[Normalizer], Normalizer]:
    def register(func: Normalizer) -> Normalizer:
        if name in NORMALIZERS:
            raise ValueError(f"normalizer {name!r} is already registered")
        NORMALIZERS[name] = func
        return func

    return register


def get_normalizer(name: str) -> Normalizer:
    """The normalizer called ``name``; ``quantile_map:REF`` names quantile_map's reference index."""
    method, _, reference = name.partition(":")
    if method == "quantile_map" and reference:
        return lambda values, specs: quantile_map_onto(values, specs, reference)
    try:
        return NORMALIZERS[name]
    except KeyError:
        known = ", ".join(sorted(NORMALIZERS))
        raise ConfigError(f"unknown normalizer {name!r}; known: {known} (and quantile_map:INDEX)") from None


def check_method(name: str) -> str:
    """``name`` if it names a normalizer, else a ``ValueError`` listing the known ones (for config)."""
    method, colon, reference = name.partition(":")
    if (method == "quantile_map" and colon and reference) or name in NORMALIZERS:
        return name
    known = ", ".join(sorted(NORMALIZERS))
    raise ValueError(f"unknown normalizer {name!r}; known: {known} (and quantile_map:INDEX)")


def normalize(
    values: FloatArray, specs: Sequence[IndexSpec], method: str = "percentile", *,
    ranks: Sequence[Ranked] | None = None,
) -> FloatArray:
    """Normalize ``values`` (subjects × indices) with the named method.

    ``ranks`` (one :func:`~aggregator.analytics._arrays.rank_column` per column of the *oriented*
    values, as :func:`oriented_ranks` makes) lets the rank-based built-ins skip their sort.

    >>> from aggregator.models import IndexSpec, Scale
    >>> specs = [IndexSpec(name="k", scale=Scale(lo=0, hi=200))]
    >>> normalize(np.array([[0.0], [50.0], [200.0]]), specs, "range").ravel().tolist()
    [0.0, 25.0, 100.0]
    >>> normalize(np.array([[3.0], [1.0], [2.0], [np.nan]]), specs).ravel().tolist()
    [83.33333333333334, 16.666666666666664, 50.0, nan]
    """
    if values.ndim != 2 or values.shape[1] != len(specs):
        raise ValueError(f"values have shape {values.shape}, expected (subjects, {len(specs)})")
    if ranks is not None:
        method_name, _, reference = method.partition(":")
        if method_name == "percentile" and not reference:
            return _percentile(values, ranks)
        if method_name == "quantile_map":
            return _quantile_map(values, specs, ranks, reference or None)
        if method_name == "range" and not reference:
            return _range_ranked(values, specs, ranks)
        if method_name == "robust_z" and not reference:
            out = _robust_z(ranks)
            return out if out.shape == values.shape else np.full(values.shape, np.nan)
    return get_normalizer(method)(values, specs)


def oriented_ranks(values: FloatArray, specs: Sequence[IndexSpec]) -> list[Ranked]:
    """Each column ranked once, higher-is-better (for :func:`normalize`'s ``ranks``)."""
    return [
        rank_column(values[:, j] if spec.higher_is_better else -values[:, j]) for j, spec in enumerate(specs)
    ]


def _empty_like(values: FloatArray) -> FloatArray:
    """A NaN array shaped like ``values``, column-major: every normalizer writes it column by column."""
    return np.full(values.shape, np.nan, order="F")


@normalizer("percentile")
def percentile(values: FloatArray, specs: Sequence[IndexSpec]) -> FloatArray:
    return _percentile(values, oriented_ranks(values, specs))


def _percentile(values: FloatArray, ranks: Sequence[Ranked]) -> FloatArray:
    from aggregator.analytics._kernels import scatter_mid_points  # numba: only when a comparison runs

    out = _empty_like(values)
    for j, ranked in enumerate(ranks):  # a handful of indices, each one compiled pass
        scatter_mid_points(ranked.sorted_groups, ranked.order, 100.0, out[:, j])
    return out


@normalizer("range")
def range_(values: FloatArray, specs: Sequence[IndexSpec]) -> FloatArray:
    out = _empty_like(values)
    for j, spec in enumerate(specs):
        out[:, j] = _range_column(values[:, j], spec)
    return out


def _range_ranked(values: FloatArray, specs: Sequence[IndexSpec], ranks: Sequence[Ranked]) -> FloatArray:
    """``range`` when the columns are ranked already: the cohort's ends come off the sort."""
    out = _empty_like(values)
    for j, (spec, ranked) in enumerate(zip(specs, ranks, strict=True)):
        if spec.scale.bounded or not ranked.count:
            out[:, j] = _range_column(values[:, j], spec)
            continue
        oriented = values[:, j] if spec.higher_is_better else -values[:, j]
        lowest, top = float(ranked.sorted_values[0]), float(ranked.sorted_values[-1])
        if top == lowest:
            out[ranked.order, j] = 50.0
        else:
            column = out[:, j]  # contiguous (column-major): computed in place
            np.subtract(oriented, lowest, out=column)
            np.log1p(column, out=column)
            column *= 100.0 / np.log1p(top - lowest)
    return out


def _range_column(column: FloatArray, spec: IndexSpec) -> FloatArray:
    lo, hi = spec.scale.lo, spec.scale.hi
    if lo is not None and hi is not None:
        scaled = (column - lo) / (hi - lo) * 100.0
        if not spec.higher_is_better:
            scaled = 100.0 - scaled
        return np.clip(scaled, 0.0, 100.0)  # a reading is checked against its scale; belt and braces
    return _log_range(column if spec.higher_is_better else -column)


def _log_range(column: FloatArray) -> FloatArray:
    if np.all(np.isnan(column)):
        return column.copy()
    logged = np.log1p(column - np.nanmin(column))
    top = np.nanmax(logged)
    if top == 0.0:  # every scored subject has the same value: all stand in the middle
        return np.where(np.isnan(column), np.nan, 50.0)
    scaled: FloatArray = logged / top * 100.0
    return scaled


@normalizer("robust_z")
def robust_z(values: FloatArray, specs: Sequence[IndexSpec]) -> FloatArray:
    out = _robust_z(oriented_ranks(values, specs))
    return out if out.shape == values.shape else np.full(values.shape, np.nan)


def _robust_z(ranks: Sequence[Ranked]) -> FloatArray:
    from scipy.special import ndtr  # the normal CDF; scipy loads only when this method is used

    out = np.full((ranks[0].groups.size if ranks else 0, len(ranks)), np.nan, order="F")
    for j, ranked in enumerate(ranks):
        if not ranked.count:
            continue
        present = ranked.sorted_values
        median = column_median(ranked)
        scratch = present - median
        deviation = np.abs(scratch)
        scale = MAD_TO_SD * median_in_place(deviation)
        if scale == 0.0:
            scale = MEAN_AD_TO_SD * float(np.mean(deviation))
        if scale == 0.0:
            out[ranked.order, j] = 50.0
            continue
        # a scale near the smallest float can overflow a deviation to ±inf: the normal CDF
        # then gives 0 or 100, which is the right standing, so the overflow is not an error
        with np.errstate(over="ignore"):
            scratch /= scale
        ndtr(scratch, out=scratch)
        scratch *= 100.0
        out[ranked.order, j] = scratch
    return out


@normalizer("quantile_map")
def quantile_map(values: FloatArray, specs: Sequence[IndexSpec]) -> FloatArray:
    return _quantile_map(values, specs, oriented_ranks(values, specs), None)


def quantile_map_onto(values: FloatArray, specs: Sequence[IndexSpec], reference: str) -> FloatArray:
    """``quantile_map`` with the reference index named."""
    return _quantile_map(values, specs, oriented_ranks(values, specs), reference)


def reference_index(specs: Sequence[IndexSpec], counts: Sequence[int], reference: str | None) -> int:
    """Column of quantile_map's reference (see the module docstring for the default)."""
    names = [s.name for s in specs]
    if reference is not None:
        if reference not in names:
            raise ConfigError(
                f"quantile_map reference {reference!r} is not one of the indices ({', '.join(names) or 'none'})"
            )
        return names.index(reference)
    if DEFAULT_REFERENCE in names:
        return names.index(DEFAULT_REFERENCE)
    return int(np.argmax(counts)) if len(counts) else 0


def _quantile_map(
    values: FloatArray, specs: Sequence[IndexSpec], ranks: Sequence[Ranked], reference: str | None
) -> FloatArray:
    out = _empty_like(values)
    if not specs:
        return out
    ref = reference_index(specs, [r.count for r in ranks], reference)
    ref_ranked = ranks[ref]
    if ref_ranked.count:
        # the reference's values in its own units, ascending, at their mid-rank percentiles
        sign = 1.0 if specs[ref].higher_is_better else -1.0
        ref_values = _range_column(ref_ranked.sorted_values * sign, specs[ref])
        ref_values = np.maximum.accumulate(ref_values)  # ascending already; guards float noise
        ref_points = ref_ranked.sorted_points
    for j, ranked in enumerate(ranks):
        if not ranked.count:
            continue
        p = ranked.sorted_points
        np.put(out[:, j], ranked.order, np.interp(p, ref_points, ref_values) if ref_ranked.count else p * 100.0)
    return out
