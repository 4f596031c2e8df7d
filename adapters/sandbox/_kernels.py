"""Small numpy helpers shared by the vendor formulas: columns by name, standing, id-keyed noise."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from adapters.sandbox.population import FEATURE_NAMES, load_population

FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]

_TWO_TO_64 = float(2**64)


class Columns:
    """Feature columns looked up by name, as ``log1p`` (``cols.log("posts")``) or raw values."""

    def __init__(self, features: FloatArray, feature_names: Sequence[str]) -> None:
        names = tuple(feature_names)
        if features.ndim != 2 or features.shape[1] != len(names):
            raise ValueError(
                f"features must be a 2-D array with one column per feature name "
                f"({len(names)} names), got shape {features.shape}"
            )
        missing = [name for name in FEATURE_NAMES if name not in names]
        if missing:
            raise ValueError(f"features lack the columns {missing}; expected {list(FEATURE_NAMES)}")
        self._features = np.asarray(features, dtype=np.float64)
        self._index = {name: position for position, name in enumerate(names)}

    def __len__(self) -> int:
        return int(self._features.shape[0])

    def raw(self, name: str) -> FloatArray:
        return self._features[:, self._index[name]]

    def log(self, name: str) -> FloatArray:
        return np.log1p(self.raw(name))

    def z(self, name: str, crowd: Columns) -> FloatArray:
        """How unusual ``log1p(feature)`` is: standard deviations above the crowd's average."""
        reference = crowd.log(name)
        return np.asarray((self.log(name) - reference.mean()) / reference.std(), dtype=np.float64)


def reference_columns(reference: FloatArray | None) -> Columns:
    """The crowd that "everyone" means for a vendor: by default the packaged real population.

    Scores that are relative to a population (percentiles, "top account = 1000") are computed
    against this fixed crowd, not against whoever happens to be in the sample, so a person
    keeps the same score whatever sample they appear in.
    """
    features = load_population().features if reference is None else reference
    return Columns(features, FEATURE_NAMES)


def standing(values: FloatArray, reference: FloatArray) -> FloatArray:
    """0-100: the share of the reference crowd below each value (ties count half).

    >>> standing(np.array([0.0, 2.0, 9.0]), np.array([1.0, 2.0, 3.0, 4.0])).tolist()
    [0.0, 37.5, 100.0]
    """
    ordered = np.sort(reference)
    below = np.searchsorted(ordered, values, side="left")
    not_above = np.searchsorted(ordered, values, side="right")
    return (below + not_above) / (2.0 * ordered.size) * 100.0


def id_uniform(ids: Sequence[str], salt: str) -> FloatArray:
    """A number in [0, 1) per id, fixed by the id and the salt (not by its row or sample)."""
    out = np.empty(len(ids), dtype=np.float64)
    for row, subject_id in enumerate(ids):
        digest = hashlib.blake2b(f"{salt}:{subject_id}".encode(), digest_size=8).digest()
        out[row] = int.from_bytes(digest, "big") / _TWO_TO_64
    return out


def id_normal(ids: Sequence[str], salt: str) -> FloatArray:
    """A standard normal draw per id (Box-Muller on two id-keyed uniforms)."""
    u1 = 1.0 - id_uniform(ids, f"{salt}/1")  # in (0, 1], safe for the log
    u2 = id_uniform(ids, f"{salt}/2")
    return np.asarray(np.sqrt(-2.0 * np.log(u1)) * np.cos(2.0 * np.pi * u2), dtype=np.float64)


def check_version(vendor: str, version: int, known: Sequence[int]) -> None:
    if version not in known:
        raise ValueError(f"{vendor} has no algorithm version {version}; known: {list(known)}")
