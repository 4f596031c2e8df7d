"""Erasing a subject from the store (``aggregator forget SUBJECT`` calls :func:`forget`).

A subject is found by roster id, or by any handle (``@`` and case ignored). Everything the
history database holds about them goes, in every run: readings (with components, topics and
the vendor's raw text), failures, run membership and the subject row with its name and
handles; and wherever another row quotes their id, name or a handle (another subject's
failure message, a vendor's raw text or topics) it is blanked. The file is then rewritten
(``VACUUM``) and its write-ahead log truncated, so no erased byte
survives in free pages or in the ``-wal`` file.

Reports already written or emailed are files outside the database; this cannot reach them.
To stop a person being collected again, add them to the opt-out list as well: a run erases
anyone on it whose history it still finds, and says so.
"""

from __future__ import annotations

from dataclasses import dataclass

from aggregator.collection.store import Store


@dataclass(frozen=True)
class Erased:
    """What :func:`forget` removed."""

    subject_ids: tuple[str, ...]
    readings: int
    failures: int
    #: runs the subjects were part of
    runs: int

    @property
    def anything(self) -> bool:
        return bool(self.subject_ids)


def forget(store: Store, key: str) -> Erased:
    """Erase every stored subject whose id or handle is ``key``, then rewrite the file."""
    found = [s.id for s in store.find_subjects(key)]
    if not found:
        return Erased((), 0, 0, 0)
    removed = store.forget(found)
    store.vacuum()
    return Erased(tuple(found), removed["readings"], removed["failures"], removed["runs"])
