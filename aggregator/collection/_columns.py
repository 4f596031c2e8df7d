"""Stored values as numpy columns, with no Python object per stored row.

sqlite3 hands rows to Python one tuple at a time: about half a microsecond each, plus a ``str``
per subject id, which at a million subjects and a few runs is most of a report's time. The
column reads here let SQLite do the per-row work in C instead:

- a column's subject ids come back as one text (``group_concat``) and are split once, as bytes;
- its numbers go through ``np.fromiter`` straight off the cursor (no list of tuples);
- ids are read in the readings' primary-key order, which sorts them as SQLite sorts text (by
  UTF-8 bytes, as numpy compares ``bytes_``), so a run's roster sorted the same way turns them
  into row numbers with one ``searchsorted``, and no join is probed per row.

Even so a reading costs about half a microsecond of CPU. So once a run has finished, the store
keeps what these reads give as a columnar copy (:func:`to_copy`, the ``run_columns`` table):
each array one BLOB that :func:`from_copy` maps with ``np.frombuffer``, each text column (ids,
failures) one JSON array. The copy is built from the rows by the same reads, so it holds the
same values bit for bit; anything that changes a run's rows drops or rewrites it.
"""

from __future__ import annotations

import json
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


@dataclass(frozen=True, eq=False)
class IndexColumns:
    """One index of a run as stored: its values, the versions that scored them, topics, components."""

    values: StoredColumn
    #: how many readings each algorithm version scored
    versions: dict[str, int]
    #: ``(roster row, topics)`` of the readings that name any topic, in subject id order
    topics: tuple[tuple[int, tuple[str, ...]], ...]
    #: each component the index's readings carry (sorted by name) and its values by roster row
    components: tuple[tuple[str, StoredColumn], ...]


@dataclass(frozen=True, eq=False)
class RunColumns:
    """A run read back whole: roster, indices and failures, as columns.

    Built from the stored rows (:meth:`Store.run_columns`), and kept as a copy once the run has
    finished (``run_columns`` table): each array one BLOB read by ``np.frombuffer``, each text
    column one JSON array.
    """

    #: subject ids in roster order (names and handles are not kept: a later run may change them)
    ids: list[str]
    roster: RosterRows
    indices: dict[str, IndexColumns]
    #: ``[index, subject id, kind, attempts, message, ISO time]``, ordered by index and subject id
    failures: tuple[list[str], list[str | None], list[str], list[int], list[str], list[str]]


#: a copy's rows: (index name, '' for the run's own; kind; payload)
CopyRow = tuple[str, str, bytes]


def to_copy(columns: RunColumns) -> list[CopyRow]:
    """The rows of a run's columnar copy (see :func:`from_copy`)."""
    keys = columns.roster.keys
    width = keys.dtype.itemsize if len(keys) else 1
    meta: dict[str, object] = {"width": width, "indices": list(columns.indices)}
    rows: list[CopyRow] = [
        ("", "ids", json.dumps(columns.ids).encode()),
        ("", "failures", json.dumps(columns.failures).encode()),
        ("", "roster-keys", np.ascontiguousarray(keys, dtype=f"S{width}").tobytes()),
        ("", "roster-rows", columns.roster.rows.astype(np.int64).tobytes()),
    ]
    for name, index in columns.indices.items():
        meta[name] = {"versions": index.versions, "topics": index.topics,
                      "components": [part for part, _ in index.components]}
        for kind, column in (("", index.values), *((f"component:{part}:", col) for part, col in index.components)):
            rows.append((name, kind + "rows", column.rows.astype(np.int64).tobytes()))
            rows.append((name, kind + "values", column.values.astype(np.float64).tobytes()))
    rows.append(("", "meta", json.dumps(meta).encode()))
    return rows


def from_copy(stored: dict[tuple[str, str], bytes]) -> RunColumns:
    """A run's columns from its copy's rows, keyed by (index name, kind): arrays are not copied."""
    meta = json.loads(stored["", "meta"])
    ids = json.loads(stored["", "ids"])
    failures = json.loads(stored["", "failures"])

    def column(name: str, kind: str) -> StoredColumn:
        return StoredColumn(np.frombuffer(stored[name, kind + "rows"], dtype=np.int64).astype(np.intp, copy=False),
                            np.frombuffer(stored[name, kind + "values"], dtype=np.float64))

    indices = {
        name: IndexColumns(
            column(name, ""), meta[name]["versions"],
            tuple((int(row), tuple(topics)) for row, topics in meta[name]["topics"]),
            tuple((part, column(name, f"component:{part}:")) for part in meta[name]["components"]),
        )
        for name in meta["indices"]
    }
    roster = RosterRows(np.frombuffer(stored["", "roster-keys"], dtype=f"S{meta['width']}"),
                        np.frombuffer(stored["", "roster-rows"], dtype=np.int64).astype(np.intp, copy=False))
    return RunColumns(ids, roster, indices, tuple(failures))
