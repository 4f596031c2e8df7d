"""Pairwise metrics and cross-validation folds, in numpy (no scikit-learn at run time).

For a pair (A, B), a model's *decision* is ``strength_A - strength_B``: positive says A is more
influential. Pairwise AUC is the ROC AUC of decisions against the human label ("A won"),
with ties counted half (Mann-Whitney); accuracy counts a decision of exactly 0 as half right.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]
IndexArray = NDArray[np.intp]


def auc(labels: FloatArray, decisions: FloatArray) -> float:
    """ROC AUC of ``decisions`` for binary ``labels`` (1 = positive), ties counted half."""
    labels = np.asarray(labels, dtype=np.float64)
    decisions = np.asarray(decisions, dtype=np.float64)
    positive = labels == 1
    n_pos = int(positive.sum())
    n_neg = len(labels) - n_pos
    if n_pos == 0 or n_neg == 0:
        raise ValueError("AUC needs both outcomes among the labels")
    ranks = _mid_ranks(decisions)
    return float((ranks[positive].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def _mid_ranks(values: FloatArray) -> FloatArray:
    order = np.argsort(values, kind="stable")
    ordered = values[order]
    # positions where a new distinct value starts
    starts = np.flatnonzero(np.concatenate([[True], ordered[1:] != ordered[:-1]]))
    ends = np.append(starts[1:], len(values))
    mid = (starts + ends + 1) / 2.0  # 1-based mid-rank of each run of ties
    ranks = np.empty(len(values))
    ranks[order] = np.repeat(mid, ends - starts)
    return ranks


def accuracy(labels: FloatArray, decisions: FloatArray) -> float:
    """Share of pairs whose decision points to the judged winner; a decision of 0 is half right."""
    labels = np.asarray(labels, dtype=np.float64)
    decisions = np.asarray(decisions, dtype=np.float64)
    right = np.where(decisions == 0, 0.5, ((decisions > 0) == (labels == 1)).astype(np.float64))
    return float(right.mean())


def stratified_folds(labels: FloatArray, k: int, seed: int) -> list[IndexArray]:
    """``k`` test folds, each with about the same share of each label; fixed by ``seed``.

    Each label's rows are shuffled with ``numpy.random.default_rng(seed)`` and dealt into
    ``k`` nearly equal parts; fold ``i`` is part ``i`` of every label, in row order.
    """
    labels = np.asarray(labels)
    if k < 2:
        raise ValueError(f"cross-validation needs at least 2 folds, got {k}")
    rng = np.random.default_rng(seed)
    parts: list[list[IndexArray]] = [[] for _ in range(k)]
    for value in np.unique(labels):
        rows = np.flatnonzero(labels == value)
        if len(rows) < k:
            raise ValueError(f"{k}-fold cross-validation needs at least {k} pairs of each outcome; "
                             f"outcome {value:g} has {len(rows)}")
        for i, chunk in enumerate(np.array_split(rng.permutation(rows), k)):
            parts[i].append(chunk)
    return [np.sort(np.concatenate(p)) for p in parts]


#: a pair is held out when the first byte of its people's SHA-256 is below this: about a third
HELD_OUT_BELOW = 86


def held_out_rows(a: FloatArray, b: FloatArray) -> NDArray[np.bool_]:
    """Which pairs ``(a[i], b[i])`` (feature rows) belong to the held-out part, fixed in advance.

    By the SHA-256 of the pair's two people (their features as text, in sorted order), so a
    duplicated pair, or the same two people with A and B swapped, fall on the same side.
    About a third of the pairs; the same pairs whatever the file's order or other rows.
    """
    import hashlib

    held = np.zeros(len(a), dtype=np.bool_)
    for i, (first, second) in enumerate(zip(a.tolist(), b.tolist(), strict=True)):
        key = "|".join(sorted(",".join(repr(v) for v in side) for side in (first, second)))
        held[i] = hashlib.sha256(key.encode()).digest()[0] < HELD_OUT_BELOW
    return held


@contextmanager
def one_thread() -> Iterator[None]:
    """Run BLAS and OpenMP on one thread inside: fits give the same bits whatever the core count,
    and small fits do not fight over a busy machine's cores."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1):
        yield


__all__ = ["accuracy", "auc", "one_thread", "stratified_folds"]
