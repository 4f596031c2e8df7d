"""The demo population: 1,569 real, anonymized Twitter accounts, and synthetic look-alikes.

``load_population()`` reads the packaged ``data/population.csv.gz`` (see ``data/README.md``):
one row per distinct account in the PeerIndex pairs data, with a pseudonymous id, handle and
name and 11 activity features. ``sample_population(n, seed)`` picks ``n`` of them in a seeded
order, and when ``n`` is larger than the real population, adds synthetic subjects drawn from
the same distributions so that benchmarks can run at any size.

A synthetic subject copies a randomly chosen real account and multiplies each of its features
by a small random factor (normal noise of ``SYNTHETIC_LOG_NOISE`` on the log scale), then
keeps the data's own rules: counts stay whole numbers, rates stay at or above the data's
smoothing floor, zeros stay zeros. Synthetic subjects are marked everywhere: ``synthetic`` is
True, ids are ``s00001``..., handles ``synth_00001``..., names end with " (synthetic)".

``load_judgments()`` reads the packaged ``data/judgments.csv.gz``: the 4,000 human judgments of
the PeerIndex pairs data (who of two real accounts is more influential), by person id;
``write_judgments`` writes those between the people of a population (never a synthetic one).
"""

from __future__ import annotations

import csv
import gzip
import io
from dataclasses import dataclass
from functools import cache
from importlib.resources import files
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from adapters.sandbox._names import pair_for
from aggregator.atomic import atomic_open

FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]

FEATURE_NAMES: tuple[str, ...] = (
    "follower_count", "following_count", "listed_count", "mentions_received",
    "retweets_received", "mentions_sent", "retweets_sent", "posts",
    "network_feature_1", "network_feature_2", "network_feature_3",
)
#: Columns that are whole-number counts in the source data.
INTEGER_FEATURES = frozenset({"follower_count", "following_count", "listed_count", "network_feature_1"})
#: Smoothed rates in the source data never go below this value (see the data's README).
RATE_FEATURES = frozenset(
    {"mentions_received", "retweets_received", "mentions_sent", "retweets_sent", "posts"}
)
RATE_FLOOR = 0.100503358535
#: Standard deviation of the noise added to a synthetic subject's log-features (about ±15%).
SYNTHETIC_LOG_NOISE = 0.15

_DATA_FILE = "population.csv.gz"
_HEADER = ("id", "handle", "name", *FEATURE_NAMES)
_JUDGMENTS_FILE = "judgments.csv.gz"
_JUDGMENTS_HEADER = ("a", "b", "winner")


@dataclass(frozen=True, eq=False)
class Population:
    """People (rows) with their activity features (columns); arrays are read-only."""

    ids: tuple[str, ...]
    handles: tuple[str, ...]
    names: tuple[str, ...]
    #: float64 ``[len(ids) x len(feature_names)]``
    features: FloatArray
    feature_names: tuple[str, ...]
    #: True for subjects resampled from the real ones, never real people
    synthetic: BoolArray

    def __post_init__(self) -> None:
        n = len(self.ids)
        if not len(self.handles) == len(self.names) == self.synthetic.shape[0] == n:
            raise ValueError("ids, handles, names and synthetic must have one entry per person")
        if self.features.shape != (n, len(self.feature_names)):
            raise ValueError(
                f"features must be {n} x {len(self.feature_names)}, got {self.features.shape}"
            )
        self.features.setflags(write=False)
        self.synthetic.setflags(write=False)

    def __len__(self) -> int:
        return len(self.ids)

    def column(self, name: str) -> FloatArray:
        """One feature for everyone, by name."""
        return self.features[:, self.feature_names.index(name)]

    def take(self, rows: NDArray[np.intp]) -> Population:
        """The people at the given row positions, in that order."""
        return Population(
            ids=tuple(self.ids[i] for i in rows),
            handles=tuple(self.handles[i] for i in rows),
            names=tuple(self.names[i] for i in rows),
            features=self.features[rows].copy(),
            feature_names=self.feature_names,
            synthetic=self.synthetic[rows].copy(),
        )


def _packaged_rows(name: str, expected: tuple[str, ...]) -> list[list[str]]:
    raw = files("adapters.sandbox").joinpath("data").joinpath(name).read_bytes()
    reader = csv.reader(io.StringIO(gzip.decompress(raw).decode("utf-8")))
    header = tuple(next(reader))
    if header != expected:
        raise ValueError(f"{name}: unexpected header {header}, expected {expected}")
    return list(reader)


@cache
def load_population() -> Population:
    """The 1,569 real (anonymized) accounts packaged with the sandbox, in file order."""
    rows = _packaged_rows(_DATA_FILE, _HEADER)
    return Population(
        ids=tuple(row[0] for row in rows),
        handles=tuple(row[1] for row in rows),
        names=tuple(row[2] for row in rows),
        features=np.array([row[3:] for row in rows], dtype=np.float64),
        feature_names=FEATURE_NAMES,
        synthetic=np.zeros(len(rows), dtype=np.bool_),
    )


@cache
def load_judgments() -> tuple[tuple[str, str, str], ...]:
    """The human judgments packaged with the sandbox: ``(a, b, winner)`` person ids, in file order."""
    return tuple((a, b, winner) for a, b, winner in _packaged_rows(_JUDGMENTS_FILE, _JUDGMENTS_HEADER))


def sample_population(n: int, seed: int = 0) -> Population:
    """``n`` subjects: real ones in a seeded order, then synthetic ones if ``n`` needs more.

    The same ``(n, seed)`` always gives the same population, and a smaller ``n`` with the same
    seed gives a prefix of a larger one (synthetic subjects included).
    """
    if n < 0:
        raise ValueError(f"n must be 0 or more, got {n}")
    real = load_population()
    order = np.random.default_rng([seed, 0]).permutation(len(real))
    chosen = real.take(order[: min(n, len(real))])
    extra = n - len(real)
    if extra <= 0:
        return chosen
    synthetic = _synthesize(real, extra, seed)
    return Population(
        ids=chosen.ids + synthetic.ids,
        handles=chosen.handles + synthetic.handles,
        names=chosen.names + synthetic.names,
        features=np.vstack([chosen.features, synthetic.features]),
        feature_names=real.feature_names,
        synthetic=np.concatenate([chosen.synthetic, synthetic.synthetic]),
    )


def _synthesize(real: Population, count: int, seed: int) -> Population:
    # separate generators for "which row" and "how much noise", each drawn in order, so the
    # k-th synthetic subject does not depend on how many are drawn after it
    sources = np.random.default_rng([seed, 1]).integers(0, len(real), size=count)
    noise = np.random.default_rng([seed, 2]).normal(0.0, SYNTHETIC_LOG_NOISE, size=(count, len(FEATURE_NAMES)))
    features = real.features[sources] * np.exp(noise)  # zeros stay zero, signs stay positive
    for j, name in enumerate(real.feature_names):
        if name in INTEGER_FEATURES:
            # a non-zero count stays at least 1 (every real account has followers)
            rounded = np.rint(features[:, j])
            features[:, j] = np.where(features[:, j] > 0, np.maximum(rounded, 1.0), 0.0)
        elif name in RATE_FEATURES:
            features[:, j] = np.maximum(features[:, j], RATE_FLOOR)
    ids = tuple(f"s{k:05d}" for k in range(1, count + 1))
    names = []
    for subject_id in ids:
        adjective, noun = pair_for(subject_id)
        names.append(f"{adjective} {noun} (synthetic)")
    return Population(
        ids=ids,
        handles=tuple(f"synth_{k:05d}" for k in range(1, count + 1)),
        names=tuple(names),
        features=features,
        feature_names=real.feature_names,
        synthetic=np.ones(count, dtype=np.bool_),
    )


def write_roster(population: Population, path: Path) -> None:
    """The roster CSV for a population: ``id,name,twitter`` (+ ``synthetic`` if any are)."""
    with_synthetic = bool(population.synthetic.any())
    with atomic_open(path, newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "name", "twitter", *(["synthetic"] if with_synthetic else [])])
        for i, subject_id in enumerate(population.ids):
            row = [subject_id, population.names[i], population.handles[i]]
            if with_synthetic:
                row.append("true" if population.synthetic[i] else "false")
            writer.writerow(row)


def write_judgments(population: Population, path: Path) -> int:
    """The judgments file (``a,b,winner``) of the pairs whose two people are both in ``population``; their count."""
    present = {pid for pid, synthetic in zip(population.ids, population.synthetic, strict=True) if not synthetic}
    kept = [row for row in load_judgments() if row[0] in present and row[1] in present]
    with atomic_open(path, newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(_JUDGMENTS_HEADER)
        writer.writerows(kept)
    return len(kept)
