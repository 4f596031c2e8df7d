"""Stored values as numpy columns, with no Python object per stored row.

sqlite3 hands rows to Python one tuple at a time: about half a microsecond each, plus a ``str``
per subject id, which at a million subjects and a few runs is most of a report's time. The
column reads here let SQLite do the per-row work in C instead:

- a column's subject ids come back as one text (``group_concat``) and are split once, as bytes;
- its numbers go through ``np.fromiter`` straight off the cursor (no list of tuples);
- ids are read in the readings' primary-key order, which sorts them as SQLite sorts text (by
  UTF-8 bytes, as numpy compares ``bytes_``), so a run's roster sorted the same way turns them
  into row numbers with one ``searchsorted``, and no join is probed per row.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

#: separates ids in a ``group_concat``: a subject id never holds a line break (models.SubjectId)
SEPARATOR = "\n"

Keys = NDArray[np.bytes_]
Rows = NDArray[np.intp]
FloatArray = NDArray[np.float64]


def split_ids(text: str | None) -> Keys:
    """The ids of one ``group_concat(subject_id, char(10))``, as a bytes array in the same order."""
    if not text:
        return np.empty(0, dtype="S1")
    return np.array(text.encode().split(SEPARATOR.encode()))


def parse_ints(text: str | None) -> Rows:
    """The integers of one ``group_concat(n)`` (comma-separated)."""
    if not text:
        return np.empty(0, dtype=np.intp)
    return np.array(text.split(","), dtype=np.intp)


@dataclass(frozen=True, eq=False)
class RosterRows:
    """A run's roster as SQLite sorts it: subject ids (bytes, ascending) and each one's row."""

    keys: Keys
    rows: Rows

    @classmethod
    def of(cls, keys: Keys, positions: Rows) -> RosterRows:
        """From ids and their stored positions (erased subjects leave gaps: rows are their ranks)."""
        if len(keys) > 1 and not bool(np.all(keys[1:] > keys[:-1])):
            order = np.argsort(keys, kind="stable")  # SQLite gave them in another order: sort here
            keys, positions = keys[order], positions[order]
        rows = np.empty(len(positions), dtype=np.intp)
        rows[np.argsort(positions, kind="stable")] = np.arange(len(positions))
        return cls(keys, rows)

    def __len__(self) -> int:
        return len(self.keys)

    def rows_of(self, ids: Keys) -> tuple[Rows, NDArray[np.bool_]]:
        """Rows of ``ids`` in this roster, and which of ``ids`` it holds (the rows are theirs)."""
        if not len(self.keys):
            return np.empty(0, dtype=np.intp), np.zeros(len(ids), dtype=bool)
        at = np.minimum(np.searchsorted(self.keys, ids), len(self.keys) - 1)
        known = self.keys[at] == ids
        return self.rows[at[known]], known


@dataclass(frozen=True, eq=False)
class StoredColumn:
    """One column of a run as stored: ``values[k]`` belongs to roster row ``rows[k]``."""

    rows: Rows
    values: FloatArray
    #: how many of the readings another algorithm version scored, carry topics, carry components
    other_versions: int = 0
    with_topics: int = 0
    with_components: int = 0
