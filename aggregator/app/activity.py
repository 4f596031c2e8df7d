"""The roster's activity features, when the config has them, for the index fingerprints.

An index whose validated options carry a ``features`` file (the in-house scorer's input: a key
column plus ``follower_count``, ``posts``, ``mentions_received`` ...) and say how its keys
``match`` the roster (``id`` or ``handle:NETWORK``, with ``key_column``) makes those features
known for the subjects. The result is a plain ``{feature: array}`` aligned with the subjects,
NaN where a subject has no usable row, which is all :func:`aggregator.analytics.compare.compare_table`
needs; a file that cannot be read only means no fingerprint (the index itself reports it).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from aggregator.analytics._arrays import FloatArray
from aggregator.app.config import Config
from aggregator.errors import AggregatorError
from aggregator.models import Subject, handles_on, subject_ids

log = logging.getLogger(__name__)


def roster_features(config: Config, subjects: Sequence[Subject]) -> dict[str, FloatArray] | None:
    """Features for ``subjects`` from the first enabled index that declares a features file."""
    for name in config.enabled_indices:
        options = config.adapter_configs.get(name)
        path = getattr(options, "features", None)
        if not isinstance(path, Path):
            continue
        match = str(getattr(options, "match", "id"))
        key_column = str(getattr(options, "key_column", "id"))
        try:
            return features_for(subjects, path, match=match, key_column=key_column)
        except (AggregatorError, OSError) as exc:
            log.warning("index fingerprints skipped: cannot read the features of index %s: %s", name, exc)
            return None
    return None


def features_for(subjects: Sequence[Subject], path: Path, *, match: str = "id",
                 key_column: str = "id") -> dict[str, FloatArray]:
    """Read a features file and align it with ``subjects`` (keys matched as the in-house index does)."""
    from aggregator.scoring.features import FEATURES, read_features

    rows = read_features(path, key_column)
    network = match.removeprefix("handle:") if match != "id" else None
    where: dict[str, list[int]] = {}
    for i, row_key in enumerate(rows.keys):
        where.setdefault(_norm(row_key, network), []).append(i)
    picked = np.full(len(subjects), -1, dtype=np.int64)
    keys = subject_ids(subjects) if network is None else handles_on(subjects, network)
    for s, key in enumerate(keys):
        found = where.get(_norm(key, network), []) if key is not None else []
        if len(found) == 1 and found[0] not in rows.bad_rows:  # ambiguous or bad rows tell nothing
            picked[s] = found[0]
    out: dict[str, FloatArray] = {}
    for j, feature in enumerate(FEATURES):
        column = np.where(picked >= 0, rows.values[np.clip(picked, 0, None), j] if len(rows.keys) else np.nan,
                          np.nan)
        if np.any(~np.isnan(column)):
            out[feature] = column
    return out


def _norm(key: str, network: str | None) -> str:
    key = key.strip()
    return key if network is None else key.lstrip("@").casefold()
