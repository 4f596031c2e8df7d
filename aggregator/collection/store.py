"""SQLite history: runs, the subjects and indices of each run, readings, failures, deliveries.

One file (or ``:memory:``). The schema version lives in ``PRAGMA user_version`` and every
change to it is a numbered migration in ``MIGRATIONS``, applied in order on open. Readings and
failures are committed in small groups as they arrive (:meth:`Store.writer`: every 1,000 or
every 50 ms, WAL mode), so a run that dies loses at most one group, which a resumed run asks
again. The store keeps numbers, never rendered reports.

A finished run also gets a columnar copy (``run_columns``, schema 6; see :meth:`Store.run_columns`
and ``_columns``), from which a report reads a million subjects in well under a second. A write
to the run drops it (a resumed run writes it again when it finishes); ``forget`` rewrites the
copies of the runs whose rows it changed, so no erased id survives in a BLOB either.

Bad days: every SQLite error leaves as a :class:`StoreError` that says, in one line naming the
file, what happened and what to do (:func:`store_error`); another process holding the write
lock is waited for, with a message after a few seconds, never reported as a failure; a result
for a subject that ``forget`` erased while the run was collecting is dropped (forgetting
wins). ``Store(path, read_only=True)`` reads a file that cannot be written.
"""

from __future__ import annotations

import functools
import inspect
import json
import logging
import re
import sqlite3
import time
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import chain, repeat
from pathlib import Path
from types import TracebackType
from typing import Any, Literal, ParamSpec, TypeVar
from urllib.parse import quote, quote_plus

import numpy as np

from aggregator.collection._columns import (
    IndexColumns,
    RosterRows,
    RunColumns,
    StoredColumn,
    from_copy,
    parse_ints,
    split_ids,
    to_copy,
)
from aggregator.errors import StoreError, StoreUnusableError
from aggregator.models import (
    Failure,
    FailureKind,
    IndexSpec,
    Reading,
    Run,
    RunCounts,
    Scale,
    Shard,
    Subject,
    Subjects,
)
from aggregator.ratelimit import RateLimit, place_starts

MIGRATIONS: tuple[str, ...] = (
    # 1: the first schema
    """
    CREATE TABLE runs (
        id TEXT PRIMARY KEY,
        started_at TEXT NOT NULL,
        finished_at TEXT,
        config_digest TEXT NOT NULL
    );
    CREATE TABLE subjects (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        handles TEXT NOT NULL,
        synthetic INTEGER NOT NULL DEFAULT 0
    );
    CREATE TABLE run_subjects (
        run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
        subject_id TEXT NOT NULL REFERENCES subjects(id) ON DELETE CASCADE,
        position INTEGER NOT NULL,
        PRIMARY KEY (run_id, subject_id)
    );
    CREATE TABLE run_indices (
        run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
        name TEXT NOT NULL,
        position INTEGER NOT NULL,
        spec TEXT NOT NULL,
        PRIMARY KEY (run_id, name)
    );
    CREATE TABLE readings (
        run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
        index_name TEXT NOT NULL,
        subject_id TEXT NOT NULL REFERENCES subjects(id) ON DELETE CASCADE,
        value REAL NOT NULL,
        raw TEXT,
        scale_lo REAL,
        scale_hi REAL,
        algorithm_version TEXT NOT NULL,
        components TEXT NOT NULL,
        topics TEXT NOT NULL,
        fetched_at TEXT NOT NULL,
        PRIMARY KEY (run_id, index_name, subject_id)
    );
    CREATE INDEX readings_by_subject ON readings (subject_id, index_name);
    CREATE TABLE failures (
        run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
        index_name TEXT NOT NULL,
        subject_id TEXT REFERENCES subjects(id) ON DELETE CASCADE,
        kind TEXT NOT NULL,
        attempts INTEGER NOT NULL,
        message TEXT NOT NULL,
        at TEXT NOT NULL
    );
    CREATE UNIQUE INDEX failures_once ON failures (run_id, index_name, coalesce(subject_id, ''));
    CREATE INDEX failures_by_pair ON failures (run_id, index_name, subject_id);
    CREATE INDEX failures_by_subject ON failures (subject_id);
    """,
    # 2: the delivery log of scheduled reports. One row per report and schedule slot, written
    # (claimed) before anything is sent: the primary key makes a second claim of the same slot
    # fail, across restarts and across processes sharing the file (at most once per slot).
    """
    CREATE TABLE deliveries (
        report TEXT NOT NULL,
        slot TEXT NOT NULL,
        due_at TEXT NOT NULL,
        claimed_at TEXT NOT NULL,
        claimed_by TEXT NOT NULL,
        state TEXT NOT NULL CHECK (state IN ('claimed', 'sent', 'failed', 'skipped')),
        run_id TEXT,
        message_id TEXT,
        finished_at TEXT,
        detail TEXT NOT NULL DEFAULT '',
        PRIMARY KEY (report, slot)
    );
    CREATE INDEX deliveries_by_due ON deliveries (report, due_at);
    """,
    # 3: how long each index took to answer in a run (NULL for runs collected before this)
    """
    ALTER TABLE run_indices ADD COLUMN seconds REAL;
    ALTER TABLE run_indices ADD COLUMN requests INTEGER;
    ALTER TABLE run_indices ADD COLUMN p50 REAL;
    ALTER TABLE run_indices ADD COLUMN p95 REAL;
    """,
    # 4: a claim is a lease its holder renews; a lapsed one (the holder died) can be taken over.
    # Claims from before this had no lease: they count as lapsed at the moment they were made.
    """
    ALTER TABLE deliveries ADD COLUMN lease_until TEXT;
    ALTER TABLE deliveries ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0;
    UPDATE deliveries SET lease_until = claimed_at WHERE state = 'claimed';
    """,
    # 5: vendors' rate-limit windows, shared by every process using the store: one row per
    # request in a window, counted from its answer once it has one. ``scope`` is the index
    # and a digest of its API key, never the key.
    """
    CREATE TABLE rate_windows (
        scope TEXT NOT NULL,
        period REAL NOT NULL,
        at REAL NOT NULL
    );
    CREATE INDEX rate_windows_by_scope ON rate_windows (scope, period, at);
    """,
    # 6: a columnar copy of each finished run (see Store.run_columns and _columns.to_copy): its
    # roster, each index's values and components, its failures, one BLOB each, so that reading
    # a run back costs ``np.frombuffer`` instead of a Python step per stored row. Finished runs
    # of older files get theirs lazily, the first time they are read with write access: built
    # here, a big file's first open would hold the write lock for minutes.
    """
    CREATE TABLE run_columns (
        run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
        index_name TEXT NOT NULL,
        kind TEXT NOT NULL,
        blob BLOB NOT NULL,
        PRIMARY KEY (run_id, index_name, kind)
    );
    """,
    # 7: the shard of the roster a run collected (``aggregator run --shard K/N``), as the JSON of
    # a Shard; NULL for a run of the whole roster
    """
    ALTER TABLE runs ADD COLUMN shard TEXT;
    """,
)
SCHEMA_VERSION = len(MIGRATIONS)
#: a group of results is committed when it holds this many, or its first is this old
GROUP_SIZE = 1000
GROUP_SECONDS = 0.05
#: how long to wait for another process's write lock before saying so (then every minute)
LOCK_NOTICE_SECONDS = 3.0

log = logging.getLogger(__name__)
P = ParamSpec("P")
R = TypeVar("R")

_READING_ROW = (
    "INSERT OR REPLACE INTO readings SELECT ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ? "
    "WHERE EXISTS (SELECT 1 FROM run_subjects WHERE run_id = ?1 AND subject_id = ?3)"
)
_FAILURE_ROW = (
    "INSERT OR REPLACE INTO failures SELECT ?, ?, ?, ?, ?, ?, ? "
    "WHERE ?3 IS NULL OR EXISTS (SELECT 1 FROM run_subjects WHERE run_id = ?1 AND subject_id = ?3)"
)


def store_error(path: str, exc: sqlite3.Error) -> StoreUnusableError:
    """One line naming the file, what went wrong and what to do (never a traceback)."""
    detail = str(exc)
    lowered = detail.lower()
    if "not a database" in lowered or "encrypted" in lowered:
        return StoreUnusableError(
            f"{path}: cannot open: this is not a history database ({detail}): point [store] path at "
            f"the right file, or, if it was one, restore it from a backup")
    if "malformed" in lowered:
        return StoreUnusableError(
            f"{path}: the history database is damaged ({detail}); nothing more was written to it. "
            f"Restore it from a backup, or save what SQLite can still read with "
            f"`sqlite3 {path} .recover | sqlite3 recovered.sqlite` and point [store] path at the new file")
    name = getattr(exc, "sqlite_errorname", "")
    if "full" in lowered or "disk i/o error" in lowered or name.startswith("SQLITE_IOERR_WRITE"):
        return StoreUnusableError(
            f"{path}: could not write ({detail}): the disk is full, or the file reached its size limit; "
            f"SQLite commits whole groups or nothing, so the history database is intact "
            f"and keeps everything committed so far: free some space, then continue the run with "
            f"`aggregator run -c CONFIG --resume RUN_ID` (see `aggregator runs`)", resumable=True)
    if "readonly" in lowered or "read-only" in lowered:
        return StoreUnusableError(
            f"{path}: the history database cannot be written (a read-only file, folder or disk); "
            f"`aggregator runs` and `aggregator history` can still read it: make it writable, or point "
            f"[store] path at a writable place to collect")
    if "unable to open" in lowered:
        return StoreUnusableError(f"{path}: cannot open the history database ({detail}): check that its folder "
                          f"exists and that you may read and write there")
    if "locked" in lowered or "busy" in lowered:
        return StoreUnusableError(f"{path}: another process holds the history database's lock ({detail}); "
                          f"wait for it to finish, or stop it, and run again", resumable=True)
    return StoreUnusableError(f"{path}: the history database failed: {detail}")


def _mapped(method: Callable[P, R]) -> Callable[P, R]:
    """Turn SQLite's errors in a Store method into a StoreError that explains itself."""

    @functools.wraps(method)
    def call(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return method(*args, **kwargs)
        except sqlite3.Error as exc:
            store = args[0]
            raise store_error(store.path if isinstance(store, Store) else "history database", exc) from None

    return call


def _busy(exc: sqlite3.Error) -> bool:
    return isinstance(exc, sqlite3.OperationalError) and ("locked" in str(exc) or "busy" in str(exc))


class _Connection(sqlite3.Connection):
    """A connection that waits for another process's write lock however long it is held.

    Only a statement that takes the lock is waited on (``BEGIN IMMEDIATE``, or one written
    outside a transaction): failing on the lock changes nothing, so asking again is safe.
    """

    path = ""

    def execute(self, sql: str, parameters: Any = (), /) -> sqlite3.Cursor:
        return self._waiting(super().execute, sql, parameters)

    def executemany(self, sql: str, parameters: Any, /) -> sqlite3.Cursor:
        return self._waiting(super().executemany, sql, parameters)

    def _waiting(self, run: Callable[[str, Any], sqlite3.Cursor], sql: str, parameters: Any) -> sqlite3.Cursor:
        started = time.monotonic()
        told = 0.0
        while True:
            try:
                return run(sql, parameters)
            except sqlite3.OperationalError as exc:
                if not _busy(exc) or (self.in_transaction and not sql.startswith("BEGIN")):
                    raise
                waited = time.monotonic() - started
                if waited - told >= (LOCK_NOTICE_SECONDS if not told else 60.0):
                    told = waited
                    log.warning("%s: another process holds the history database's write lock; waiting for it "
                                "(%.0fs so far; nothing is lost meanwhile)", self.path, waited)

DeliveryState = Literal["claimed", "sent", "failed", "skipped"]


@dataclass(frozen=True)
class Delivery:
    """One row of the delivery log: a report's schedule slot and what became of it.

    ``claimed``: a process holds the slot (collecting, sending, or waiting to retry) under a
    lease it renews until ``lease_until``; a lease that lapsed (its holder died) can be taken
    over. ``sent``: the SMTP server accepted the message. ``failed``: not delivered, for good
    (``detail`` says why, no secrets). ``skipped``: a slot missed while nothing ran, covered by
    a later catch-up delivery.
    """

    report: str
    slot: str
    due_at: datetime
    claimed_at: datetime
    claimed_by: str
    state: DeliveryState
    run_id: str | None = None
    message_id: str | None = None
    finished_at: datetime | None = None
    detail: str = ""
    lease_until: datetime | None = None
    #: sending attempts so far (a retried 4xx counts, a resend starts again)
    attempts: int = 0

    def lease_lapsed(self, now: datetime) -> bool:
        return self.state == "claimed" and (self.lease_until is None or self.lease_until <= now)


class Store:
    """The history database. Use as a context manager, or call :meth:`close`.

    ``read_only``: open for reading only (``runs``, ``history``), so a file that cannot be
    written can still be read; it must already be at this version's schema.

    >>> with Store(":memory:") as store:
    ...     store.schema_version == SCHEMA_VERSION
    True
    """

    def __init__(self, path: str | Path, *, read_only: bool = False) -> None:
        self.path = str(path)
        self.read_only = read_only
        try:
            if read_only:
                if not Path(self.path).is_file():
                    raise StoreUnusableError(f"{self.path}: no history database there")
                target = Path(self.path).resolve().as_uri() + "?mode=ro"
                self._db = sqlite3.connect(target, uri=True, isolation_level=None, timeout=1.0, factory=_Connection)
            else:
                if self.path != ":memory:":
                    Path(self.path).parent.mkdir(parents=True, exist_ok=True)
                self._db = sqlite3.connect(self.path, isolation_level=None, timeout=1.0, factory=_Connection)
            assert isinstance(self._db, _Connection)
            self._db.path = self.path
            self._db.execute("PRAGMA foreign_keys = ON")
            if read_only:
                self._check_readable()
                return
            if self.path != ":memory:":
                self._db.execute("PRAGMA journal_mode = WAL")
                self._db.execute("PRAGMA synchronous = NORMAL")
            self._migrate()
        except sqlite3.Error as exc:
            raise store_error(self.path, exc) from None
        except OSError as exc:
            raise StoreUnusableError(
                f"{self.path}: cannot create the history database's folder ({exc.strerror})") from None

    def _check_readable(self) -> None:
        current = self.schema_version
        if current != SCHEMA_VERSION:
            raise StoreUnusableError(f"{self.path} has schema {current}, this version reads {SCHEMA_VERSION}: "
                             f"open it once with write access to upgrade it" if current < SCHEMA_VERSION else
                             f"{self.path} was written by a newer influence-aggregator (schema {current}); "
                             f"upgrade to read it")

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        self._db.close()

    @property
    def schema_version(self) -> int:
        version: int = self._db.execute("PRAGMA user_version").fetchone()[0]
        return version

    def _migrate(self) -> None:
        current = self.schema_version
        if current > SCHEMA_VERSION:
            raise StoreUnusableError(
                f"{self.path} was written by a newer influence-aggregator (schema {current}, "
                f"this version knows up to {SCHEMA_VERSION}); upgrade to read it"
            )
        for version in range(current, SCHEMA_VERSION):
            with self._transaction():
                for statement in MIGRATIONS[version].split(";"):
                    if statement.strip():
                        self._db.execute(statement)
                self._db.execute(f"PRAGMA user_version = {version + 1}")

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        # IMMEDIATE: take the write lock now (waiting for it), not midway through the writes
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            if self._db.in_transaction:  # SQLite itself rolls back on some errors (a full disk)
                self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    # -- writing -------------------------------------------------------------------------

    def start_run(self, run: Run, subjects: Sequence[Subject], specs: Sequence[IndexSpec],
                  positions: Sequence[int] | None = None) -> None:
        """Record a new run of ``subjects`` (at ``positions`` in the roster: by default 0, 1, 2 ...;
        a shard's subjects keep their places in the whole roster)."""
        if positions is None:
            positions = range(len(subjects))
        with self._transaction():
            self._db.execute(
                "INSERT INTO runs (id, started_at, config_digest, shard) VALUES (?, ?, ?, ?)",
                (run.id, run.started_at.isoformat(), run.config_digest,
                 run.shard.model_dump_json() if run.shard else None),
            )
            # rows made as they are inserted, from the roster's columns: a million subjects
            # never stand as a list of rows (or of Subjects) beside the roster
            roster = Subjects.of(subjects)
            self._db.executemany(
                "INSERT INTO subjects (id, name, handles, synthetic) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (id) DO UPDATE SET name = excluded.name, handles = excluded.handles, "
                "synthetic = excluded.synthetic",
                zip(roster.ids, roster.names, roster.handles_texts, map(int, roster.synthetic), strict=True),
            )
            if len(positions) != len(roster):
                raise ValueError(f"start_run: {len(roster)} subjects but {len(positions)} positions")
            self._db.executemany(
                "INSERT INTO run_subjects (run_id, subject_id, position) VALUES (?, ?, ?)",
                zip(repeat(run.id), roster.ids, positions),
            )
            self._db.executemany(
                "INSERT INTO run_indices (run_id, name, position, spec) VALUES (?, ?, ?, ?)",
                [(run.id, spec.name, i, spec.model_dump_json()) for i, spec in enumerate(specs)],
            )

    def add(self, run_id: str, item: Reading | Failure) -> None:
        """Commit one result now; a reading replaces an earlier failure of the same pair."""
        self.write(run_id, [item])

    def writer(self, run_id: str) -> Writer:
        """A sink for :func:`~aggregator.collection.collect.collect` that commits in groups.

        Use as a context manager: what is left is committed on the way out (on Ctrl-C too).
        """
        return Writer(self, run_id)

    def write(self, run_id: str, items: Sequence[Reading | Failure], *, replaces: bool = True) -> None:
        """Commit results in one transaction; a reading replaces an earlier failure of its pair.

        A result for a subject no longer in the run (``forget`` erased it meanwhile) is dropped.
        ``replaces=False`` says no reading's pair can have a failure stored (a writer of a run
        that had none, given one result per pair): no failure is looked for.
        """
        readings = [item for item in items if isinstance(item, Reading)]
        failures = [item for item in items if isinstance(item, Failure)]
        with self._transaction():
            # the run's rows change: its columnar copy is stale until the run finishes again
            self._db.execute("DELETE FROM run_columns WHERE run_id = ?", (run_id,))
            if failures:
                self._db.executemany(_FAILURE_ROW, [
                    (run_id, f.index, f.subject_id, f.kind.value, f.attempts, f.message, f.at.isoformat())
                    for f in failures])
            # after the failures: a reading wins over a failure of the same group (most runs have
            # few failures; looking first spares a delete per reading when there are none)
            if readings and replaces and self._db.execute(
                    "SELECT 1 FROM failures WHERE run_id = ? LIMIT 1", (run_id,)).fetchone():
                self._db.executemany(
                    "DELETE FROM failures WHERE run_id = ? AND index_name = ? AND subject_id = ?",
                    [(run_id, r.index, r.subject_id) for r in readings])
            if readings:
                times: dict[datetime, str] = {}  # an adapter that reads a file gives its block one time
                self._db.executemany(_READING_ROW, [
                    (run_id, r.index, r.subject_id, r.value, r.raw, r.scale.lo, r.scale.hi, r.algorithm_version,
                     json.dumps(r.components, sort_keys=True) if r.components else "{}",
                     json.dumps(list(r.topics)) if r.topics else "[]",
                     times.get(r.fetched_at) or times.setdefault(r.fetched_at, r.fetched_at.isoformat()))
                    for r in readings])

    def add_index_timing(self, run_id: str, name: str, *, seconds: float, requests: int = 0,
                         p50: float | None = None, p95: float | None = None) -> None:
        """Add one collection's timing of an index to the run's (a resumed part adds to the first).

        Seconds and requests add up; the request percentiles are those of the latest part that
        timed any requests (percentiles of parts cannot be combined exactly).
        """
        if requests == 0:
            p50 = p95 = None
        cursor = self._db.execute(
            "UPDATE run_indices SET seconds = coalesce(seconds, 0) + ?, requests = coalesce(requests, 0) + ?, "
            "p50 = coalesce(?, p50), p95 = coalesce(?, p95) WHERE run_id = ? AND name = ?",
            (seconds, requests, p50, p95, run_id, name),
        )
        if cursor.rowcount != 1:
            raise StoreError(f"{self.path}: run {run_id!r} has no index {name!r} to time")

    def finish_run(self, run_id: str, finished_at: datetime) -> Run:
        """Mark the run finished and write its columnar copy (a resumed run's is written again)."""
        with self._transaction():
            self._db.execute("UPDATE runs SET finished_at = ? WHERE id = ?", (finished_at.isoformat(), run_id))
            self._save_columns(run_id, self._columns_from_rows(run_id))
        return self.run(run_id)

    def forget(self, subject_ids: Iterable[str]) -> dict[str, int]:
        """Erase subjects and everything stored about them, in every run; returns row counts.

        Their id, name and handles are also blanked wherever other rows quote them: another
        subject's failure message (a circuit breaker repeats the URL that tripped it, handle and
        all, in every row it skips), or a vendor's raw text and topics.
        """
        ids = list(subject_ids)
        removed = {"readings": 0, "failures": 0, "runs": 0}
        with self._transaction():
            terms: set[str] = set()
            touched: set[str] = set()  # runs whose rows change: their columnar copies are written again
            for sid in ids:
                row = self._db.execute("SELECT name, handles FROM subjects WHERE id = ?", (sid,)).fetchone()
                terms |= {sid, *((row[0], *json.loads(row[1]).values()) if row else ())}
                touched.update(r[0] for r in self._db.execute(
                    "SELECT run_id FROM run_subjects WHERE subject_id = ?", (sid,)).fetchall())
                for table, key in (("readings", "readings"), ("failures", "failures"), ("run_subjects", "runs")):
                    cursor = self._db.execute(f"DELETE FROM {table} WHERE subject_id = ?", (sid,))
                    removed[key] += cursor.rowcount
                self._db.execute("DELETE FROM subjects WHERE id = ?", (sid,))
            touched |= self._blank_mentions(terms)
            self._rewrite_columns(touched)
        return removed

    def _blank_mentions(self, terms: Iterable[str]) -> set[str]:
        """Replace every mention of ``terms`` (as written, ``@``-prefixed or URL-encoded, any case)
        in the texts other rows keep; returns the runs whose rows changed."""
        pattern = mentions(terms)
        if pattern is None:
            return set()
        runs: set[str] = set()
        for table, columns in (("failures", ("message",)), ("readings", ("raw", "topics", "components"))):
            for column in columns:
                rows = self._db.execute(
                    f"SELECT rowid, {column}, run_id FROM {table} WHERE {column} IS NOT NULL").fetchall()
                changed = [(pattern.sub("[erased]", text), rowid, run) for rowid, text, run in rows
                           if pattern.search(text)]
                self._db.executemany(f"UPDATE {table} SET {column} = ? WHERE rowid = ?", [c[:2] for c in changed])
                runs.update(c[2] for c in changed)
        return runs

    def _rewrite_columns(self, run_ids: Iterable[str]) -> None:
        """Write again the columnar copies of those of ``run_ids`` that have one (their rows changed)."""
        for run_id in sorted(run_ids):
            if self._db.execute("SELECT 1 FROM run_columns WHERE run_id = ? LIMIT 1", (run_id,)).fetchone():
                self._save_columns(run_id, self._columns_from_rows(run_id))

    def claim(self, scope: str, limit: RateLimit, now: float, *, places: int = 1, hold: float = 0.0,
              answered: Sequence[tuple[int, float]] = (), unused: Sequence[int] = ()
              ) -> tuple[list[tuple[int, float]], float]:
        """Take up to ``places`` places in ``scope``'s window of ``limit`` at ``now`` (epoch
        seconds), for every process using this file: each with the time it may start from, no
        later than ``now + hold``, counted from ``hold`` after that until settled
        (:func:`~aggregator.ratelimit.place_starts`): ``([(ticket, start), ...], 0)``, or ``([],
        seconds until a place starts)``. ``answered`` and ``unused`` are settled and given back
        first, in the same transaction."""
        with self._transaction():
            self._settle(answered)
            self._give_back(unused)
            where = (scope, limit.period)
            self._db.execute("DELETE FROM rate_windows WHERE scope = ? AND period = ? AND at <= ?",
                             (*where, now - limit.period))
            (held,) = self._db.execute("SELECT count(*) FROM rate_windows WHERE scope = ? AND period = ?",
                                       where).fetchone()
            near = [at for (at,) in self._db.execute(
                "SELECT at FROM rate_windows WHERE scope = ? AND period = ? ORDER BY at DESC LIMIT ? OFFSET ?",
                (*where, places, max(0, limit.count - places)))]
            starts, wait = place_starts(near, held, limit, now, places=places, hold=hold)
            if not starts:
                return [], wait
            rows = [value for start in starts for value in (*where, start + hold)]
            # RETURNING gives no order: matched by the time each row counts from (the starts ascend)
            taken = sorted(self._db.execute(
                "INSERT INTO rate_windows (scope, period, at) VALUES " + ", ".join(["(?, ?, ?)"] * len(starts))
                + " RETURNING at, rowid", rows).fetchall())
        return [(ticket, start) for (_, ticket), start in zip(taken, starts, strict=True)], 0.0

    def settle(self, answered: Sequence[tuple[int, float]]) -> None:
        """Each ``(ticket, at)``: the request holding ``ticket`` was answered at ``at`` and counts
        from then (it arrived at the vendor before)."""
        with self._transaction():
            self._settle(answered)

    def give_back(self, tickets: Sequence[int]) -> None:
        """Places taken by :meth:`claim` and never used: free them."""
        with self._transaction():
            self._give_back(tickets)

    def _settle(self, answered: Sequence[tuple[int, float]]) -> None:
        if answered:
            self._db.executemany("UPDATE rate_windows SET at = ? WHERE rowid = ?", [(at, t) for t, at in answered])

    def _give_back(self, tickets: Sequence[int]) -> None:
        if tickets:
            self._db.executemany("DELETE FROM rate_windows WHERE rowid = ?", [(t,) for t in tickets])

    def claim_delivery(self, report: str, slot: str, *, due_at: datetime, by: str, at: datetime,
                       lease_until: datetime | None = None, state: DeliveryState = "claimed") -> bool:
        """Take ``slot`` of ``report`` for one process until ``lease_until``; False if it is taken.

        It is free if nobody ever claimed it, or if its holder's lease lapsed before ``at``
        while the slot was still ``claimed`` (the holder died). One statement against the
        primary key, so two processes racing for the same slot cannot both win, whatever they
        share besides this file.
        """
        cursor = self._db.execute(
            "INSERT INTO deliveries (report, slot, due_at, claimed_at, claimed_by, state, lease_until) "
            "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (report, slot) DO UPDATE SET "
            "claimed_by = excluded.claimed_by, lease_until = excluded.lease_until, state = excluded.state, "
            "detail = 'taken over from ' || deliveries.claimed_by || ' (its lease lapsed at ' || "
            "deliveries.lease_until || ')' "
            "WHERE deliveries.state = 'claimed' AND coalesce(deliveries.lease_until, '') < excluded.claimed_at",
            (report, slot, _utc(due_at), _utc(at), by, state, _utc(lease_until or at)),
        )
        return cursor.rowcount == 1

    def reclaim_delivery(self, report: str, slot: str, *, due_at: datetime, by: str, at: datetime,
                         lease_until: datetime) -> bool:
        """Claim a slot again whatever became of it (``run --slot ... --resend``), unless another
        process holds a live lease on it now. Its attempts start again from zero."""
        cursor = self._db.execute(
            "INSERT INTO deliveries (report, slot, due_at, claimed_at, claimed_by, state, lease_until) "
            "VALUES (?, ?, ?, ?, ?, 'claimed', ?) ON CONFLICT (report, slot) DO UPDATE SET "
            "claimed_at = excluded.claimed_at, claimed_by = excluded.claimed_by, state = 'claimed', "
            "lease_until = excluded.lease_until, attempts = 0, finished_at = NULL, "
            "detail = 'resent on purpose; it was ' || deliveries.state "
            "WHERE NOT (deliveries.state = 'claimed' AND deliveries.claimed_by != excluded.claimed_by "
            "AND coalesce(deliveries.lease_until, '') >= excluded.claimed_at)",
            (report, slot, _utc(due_at), _utc(at), by, _utc(lease_until)),
        )
        return cursor.rowcount == 1

    def renew_delivery(self, report: str, slot: str, *, by: str, until: datetime,
                       attempt: str | None = None) -> bool:
        """Extend the holder's lease; False if the slot is no longer its own (taken over, finished).

        ``attempt`` records a failed sending attempt (what went wrong; no secrets).
        """
        cursor = self._db.execute(
            "UPDATE deliveries SET lease_until = ?, attempts = attempts + ?, detail = coalesce(?, detail) "
            "WHERE report = ? AND slot = ? AND claimed_by = ? AND state = 'claimed'",
            (_utc(until), int(attempt is not None), attempt, report, slot, by),
        )
        return cursor.rowcount == 1

    def finish_delivery(self, report: str, slot: str, state: DeliveryState, *, at: datetime,
                        run_id: str | None = None, message_id: str | None = None, detail: str = "",
                        by: str | None = None, attempted: bool = False) -> bool:
        """Record what became of a claimed slot (``detail`` must carry no secrets).

        With ``by``, only while that process still holds it; ``attempted`` counts one more
        sending attempt. False if nothing was recorded.
        """
        cursor = self._db.execute(
            "UPDATE deliveries SET state = ?, finished_at = ?, run_id = coalesce(?, run_id), lease_until = NULL, "
            "message_id = coalesce(?, message_id), detail = ?, attempts = attempts + ? "
            "WHERE report = ? AND slot = ? AND (? IS NULL OR claimed_by = ?)",
            (state, _utc(at), run_id, message_id, detail, int(attempted), report, slot, by, by),
        )
        return cursor.rowcount == 1

    def release_delivery(self, report: str, slot: str, *, by: str) -> bool:
        """Give back a claim that sent nothing (stopped before sending), so the slot can run again.

        Only the claimant's own, still ``claimed`` row is removed.
        """
        cursor = self._db.execute(
            "DELETE FROM deliveries WHERE report = ? AND slot = ? AND claimed_by = ? AND state = 'claimed'",
            (report, slot, by),
        )
        return cursor.rowcount == 1

    def delivery(self, report: str, slot: str) -> Delivery | None:
        """One slot's row of the delivery log, if it has one."""
        found = self._deliveries("WHERE report = ? AND slot = ?", [report, slot], "slot")
        return found[0] if found else None

    def deliveries(self, report: str | None = None, *, last: bool = False) -> list[Delivery]:
        """The delivery log, oldest slot first, for one report or all (``last``: only the latest)."""
        where, args = ("WHERE report = ?", [report]) if report is not None else ("", [])
        order = "due_at DESC, slot DESC LIMIT 1" if last else "due_at, report, slot"
        return self._deliveries(where, args, order)

    def _deliveries(self, where: str, args: list[str], order: str) -> list[Delivery]:
        rows = self._db.execute(
            "SELECT report, slot, due_at, claimed_at, claimed_by, state, run_id, message_id, finished_at, detail, "
            f"lease_until, attempts FROM deliveries {where} ORDER BY {order}", args,
        ).fetchall()
        return [
            Delivery(
                report=r[0], slot=r[1], due_at=datetime.fromisoformat(r[2]),
                claimed_at=datetime.fromisoformat(r[3]), claimed_by=r[4], state=r[5], run_id=r[6],
                message_id=r[7], finished_at=datetime.fromisoformat(r[8]) if r[8] else None, detail=r[9],
                lease_until=datetime.fromisoformat(r[10]) if r[10] else None, attempts=r[11],
            )
            for r in rows
        ]

    def last_delivery(self, report: str) -> Delivery | None:
        """The report's latest slot in the log (whatever its state), or None if it never ran."""
        found = self.deliveries(report, last=True)
        return found[0] if found else None

    def vacuum(self) -> None:
        """Rewrite the file so erased rows leave no trace in free pages."""
        self._db.execute("VACUUM")
        if self.path != ":memory:":
            self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    # -- reading -------------------------------------------------------------------------

    def run(self, run_id: str) -> Run:
        row = self._db.execute("SELECT id, started_at, finished_at, config_digest, shard FROM runs WHERE id = ?",
                               (run_id,)).fetchone()
        if row is None:
            known = ", ".join(r.id for r in self.runs()[-5:]) or "none yet"
            raise StoreError(f"{self.path} has no run {run_id!r} (latest: {known})")
        return self._run_from_row(row)

    def runs(self) -> list[Run]:
        """Every run, oldest first."""
        rows = self._db.execute(
            "SELECT id, started_at, finished_at, config_digest, shard FROM runs ORDER BY started_at, id"
        ).fetchall()
        return [self._run_from_row(row) for row in rows]

    def run_states(self) -> list[tuple[str, bool]]:
        """Every run's id and whether it finished, oldest first (without counting its rows)."""
        rows = self._db.execute("SELECT id, finished_at IS NOT NULL FROM runs ORDER BY started_at, id").fetchall()
        return [(r[0], bool(r[1])) for r in rows]

    def _run_from_row(self, row: tuple[str, str, str | None, str, str | None]) -> Run:
        run_id = row[0]
        count = self._count
        counts = RunCounts(
            subjects=count("run_subjects", run_id), indices=count("run_indices", run_id),
            readings=count("readings", run_id), failures=count("failures", run_id),
        )
        return Run(
            id=run_id, started_at=datetime.fromisoformat(row[1]),
            finished_at=datetime.fromisoformat(row[2]) if row[2] else None,
            config_digest=row[3], counts=counts, shard=Shard.model_validate_json(row[4]) if row[4] else None,
        )

    def _count(self, table: str, run_id: str) -> int:
        value: int = self._db.execute(f"SELECT count(*) FROM {table} WHERE run_id = ?", (run_id,)).fetchone()[0]
        return value

    def subjects(self, run_id: str) -> list[Subject]:
        rows = self._db.execute(
            "SELECT s.id, s.name, s.handles, s.synthetic FROM run_subjects r JOIN subjects s "
            "ON s.id = r.subject_id WHERE r.run_id = ? ORDER BY r.position", (run_id,),
        ).fetchall()
        return [Subject(id=r[0], name=r[1], handles=json.loads(r[2]), synthetic=bool(r[3])) for r in rows]

    def positions(self, run_id: str) -> list[int]:
        """Each subject's place in the roster, in the order of :meth:`subjects` (ascending)."""
        rows = self._db.execute("SELECT position FROM run_subjects WHERE run_id = ? ORDER BY position", (run_id,))
        return [row[0] for row in rows]

    def specs(self, run_id: str) -> list[IndexSpec]:
        rows = self._db.execute("SELECT spec FROM run_indices WHERE run_id = ? ORDER BY position", (run_id,))
        return [IndexSpec.model_validate_json(r[0]) for r in rows]

    def index_timing(self, run_id: str) -> dict[str, tuple[float, int, float | None, float | None]]:
        """``name -> (seconds, requests, p50, p95)`` for the run's indices that were timed."""
        rows = self._db.execute(
            "SELECT name, seconds, requests, p50, p95 FROM run_indices WHERE run_id = ? AND seconds IS NOT NULL "
            "ORDER BY position", (run_id,),
        ).fetchall()
        return {r[0]: (float(r[1]), int(r[2] or 0), r[3], r[4]) for r in rows}

    def readings(
        self, run_id: str | None = None, *, subject_id: str | None = None, index: str | None = None
    ) -> list[tuple[str, Reading]]:
        """``(run_id, reading)`` pairs, filtered by any of run, subject and index; oldest run first."""
        where, args = _filters(run_id=run_id, subject_id=subject_id, index_name=index)
        rows = self._db.execute(
            "SELECT r.run_id, index_name, subject_id, value, raw, scale_lo, scale_hi, algorithm_version, "
            "components, topics, fetched_at FROM readings r JOIN runs ON runs.id = r.run_id "
            f"{where} ORDER BY runs.started_at, runs.id, index_name, subject_id", args,
        ).fetchall()
        return [
            (row[0], Reading(
                index=row[1], subject_id=row[2], value=row[3], raw=row[4],
                scale=Scale(lo=row[5], hi=row[6]), algorithm_version=row[7],
                components=json.loads(row[8]), topics=tuple(json.loads(row[9])),
                fetched_at=datetime.fromisoformat(row[10]),
            ))
            for row in rows
        ]

    def failures(self, run_id: str) -> list[Failure]:
        rows = self._db.execute(
            "SELECT index_name, subject_id, kind, attempts, message, at FROM failures WHERE run_id = ? "
            "ORDER BY index_name, subject_id", (run_id,),
        ).fetchall()
        return [
            Failure(index=r[0], subject_id=r[1], kind=FailureKind(r[2]), attempts=r[3], message=r[4],
                    at=datetime.fromisoformat(r[5]))
            for r in rows
        ]

    def answered(self, run_id: str, *, retry: Collection[FailureKind] = ()) -> set[tuple[str, str]]:
        """(index, subject) pairs that need no new fetch: a reading, or a final failure whose
        kind is not in ``retry`` (``--retry not_found`` asks again even what was final)."""
        final = [kind.value for kind in FailureKind if kind.is_final and kind not in retry]
        marks = ",".join("?" * len(final))
        rows = self._db.execute(
            "SELECT index_name, subject_id FROM readings WHERE run_id = ? UNION "
            f"SELECT index_name, subject_id FROM failures WHERE run_id = ? AND subject_id IS NOT NULL "
            f"AND kind IN ({marks})", (run_id, run_id, *final),
        ).fetchall()
        return {(r[0], r[1]) for r in rows}

    def stored_subjects(self, subject_ids: Iterable[str]) -> list[str]:
        """Those of ``subject_ids`` the store holds anything about (in the order given)."""
        ids = list(dict.fromkeys(subject_ids))
        found: set[str] = set()
        for start in range(0, len(ids), 500):  # stay under SQLite's bound-parameter limit
            chunk = ids[start:start + 500]
            marks = ",".join("?" * len(chunk))
            rows = self._db.execute(f"SELECT id FROM subjects WHERE id IN ({marks})", chunk).fetchall()
            found.update(r[0] for r in rows)
        return [sid for sid in ids if sid in found]

    def find_subjects(self, key: str) -> list[Subject]:
        """Stored subjects whose id is ``key``, or with a handle equal to it (``@`` and case ignored)."""
        wanted = key.strip().lstrip("@").casefold()
        rows = self._db.execute("SELECT id, name, handles, synthetic FROM subjects ORDER BY id").fetchall()
        found = []
        for r in rows:
            handles: dict[str, str] = json.loads(r[2])
            if r[0] == key.strip() or any(h.lstrip("@").casefold() == wanted for h in handles.values()):
                found.append(Subject(id=r[0], name=r[1], handles=handles, synthetic=bool(r[3])))
        return found

    def standing_history(self, subject_id: str) -> list[tuple[str, str, float, int, int, int]]:
        """A subject's readings with their place in each run's cohort, oldest run first.

        Rows of ``(run_id, index, value, below, equal, scored)``: how many of the subjects the
        index scored in that run are below (worse than) the value, how many equal it (the
        subject included), and how many it scored; "below" follows the index's direction.
        """
        rows = self._db.execute(
            "SELECT r.run_id, r.index_name, r.value, i.spec, "
            "(SELECT count(*) FROM readings o WHERE o.run_id = r.run_id AND o.index_name = r.index_name "
            " AND o.value < r.value), "
            "(SELECT count(*) FROM readings o WHERE o.run_id = r.run_id AND o.index_name = r.index_name "
            " AND o.value = r.value), "
            "(SELECT count(*) FROM readings o WHERE o.run_id = r.run_id AND o.index_name = r.index_name) "
            "FROM readings r JOIN runs ON runs.id = r.run_id "
            "LEFT JOIN run_indices i ON i.run_id = r.run_id AND i.name = r.index_name "
            "WHERE r.subject_id = ? ORDER BY runs.started_at, runs.id, i.position, r.index_name", (subject_id,),
        ).fetchall()
        out = []
        for run_id, index, value, spec, less, equal, scored in rows:
            higher_is_better = IndexSpec.model_validate_json(spec).higher_is_better if spec else True
            below = less if higher_is_better else scored - less - equal
            out.append((run_id, index, float(value), int(below), int(equal), int(scored)))
        return out

    # -- reading columns (numpy; no Python object per row: see _columns) ------------------

    def run_columns(self, run_id: str) -> RunColumns:
        """The whole run as columns: from its columnar copy, or from its rows if it has none.

        A finished run without a copy (stored before schema 6) gets one now, unless the file
        is read only; an unfinished run is always read from its rows.
        """
        stored = {(r[0], r[1]): r[2] for r in self._db.execute(
            "SELECT index_name, kind, blob FROM run_columns WHERE run_id = ?", (run_id,))}
        if stored:
            return from_copy(stored)
        if self.read_only or not self.run(run_id).finished:
            return self._columns_from_rows(run_id)
        with self._transaction():  # read and written under the write lock: no write slips in between
            columns = self._columns_from_rows(run_id)
            self._save_columns(run_id, columns)
        return columns

    def _save_columns(self, run_id: str, columns: RunColumns) -> None:
        self._db.execute("DELETE FROM run_columns WHERE run_id = ?", (run_id,))
        self._db.executemany("INSERT INTO run_columns (run_id, index_name, kind, blob) VALUES (?, ?, ?, ?)",
                             [(run_id, *row) for row in to_copy(columns)])

    def _columns_from_rows(self, run_id: str) -> RunColumns:
        roster = self.roster_rows(run_id)
        indices = {}
        for spec in self.specs(run_id):
            values = self.column(run_id, spec.name, roster, version=spec.algorithm_version)
            # most runs' readings all carry the configured version; count versions only when not
            same = {spec.algorithm_version: len(values.values)} if len(values.values) else {}
            topics: tuple[tuple[int, tuple[str, ...]], ...] = ()
            if values.with_topics:
                given = self.topics(run_id, spec.name)
                rows, known = roster.rows_of(np.array([sid.encode() for sid, _ in given]))
                kept = [t for (_, t), ok in zip(given, known.tolist(), strict=True) if ok]
                topics = tuple(zip(rows.tolist(), kept, strict=True))
            components = tuple(
                (name, self.column(run_id, spec.name, roster, component=name))
                for name in (self.component_names(run_id, spec.name) if values.with_components else ())
            )
            versions = self.versions(run_id, spec.name) if values.other_versions else same
            indices[spec.name] = IndexColumns(values, versions, topics, components)
        failures = self._db.execute(
            "SELECT json_array(json_group_array(index_name), json_group_array(subject_id), json_group_array(kind), "
            "json_group_array(attempts), json_group_array(message), json_group_array(at)) FROM (SELECT index_name, "
            "subject_id, kind, attempts, message, at FROM failures WHERE run_id = ? ORDER BY index_name, subject_id)",
            (run_id,),
        ).fetchone()[0]
        return RunColumns(list(self.subject_ids(run_id)), roster, indices, tuple(json.loads(failures)))

    def subject_ids(self, run_id: str) -> tuple[str, ...]:
        """The run's subject ids in roster order (no :class:`Subject` built for each)."""
        text = self._db.execute(
            "SELECT json_group_array(subject_id) FROM "
            "(SELECT subject_id FROM run_subjects WHERE run_id = ? ORDER BY position)", (run_id,),
        ).fetchone()[0]
        return tuple(json.loads(text))

    def subject_columns(self, run_id: str) -> Subjects:
        """The run's roster as columns, in roster order; a :class:`Subject` is built only when asked for."""
        ids, names, handles, synthetic = self._db.execute(
            "SELECT json_group_array(id), json_group_array(name), json_group_array(handles), "
            "json_group_array(synthetic) FROM (SELECT s.id, s.name, s.handles, s.synthetic FROM run_subjects r "
            "JOIN subjects s ON s.id = r.subject_id WHERE r.run_id = ? ORDER BY r.position)", (run_id,),
        ).fetchone()
        return Subjects(json.loads(ids), json.loads(names), json.loads(handles), json.loads(synthetic))

    def roster_rows(self, run_id: str) -> RosterRows:
        """The run's roster sorted as SQLite sorts subject ids, each with its row in the roster."""
        ids, rows = self._db.execute(
            "SELECT group_concat(subject_id, char(10)), group_concat(position) FROM "
            "(SELECT subject_id, position FROM run_subjects WHERE run_id = ? ORDER BY subject_id)", (run_id,),
        ).fetchone()
        return RosterRows.of(split_ids(ids), parse_ints(rows))

    def column(self, run_id: str, index: str, roster: RosterRows, *, component: str | None = None,
               version: str = "") -> StoredColumn:
        """One index's stored values in a run (or one of its components), by row of ``roster``.

        Ids and values are read in the same order (the readings' primary key: subject id), ids
        as one text and values straight into an array; rows come from ``roster``. The column
        also counts the readings scored by an algorithm version other than ``version`` and
        those that carry topics or components, so that reading those is skipped when none do.
        """
        if component is None:
            source, value, args = "readings r", "r.value", [run_id, index]
            where = "r.run_id = ? AND r.index_name = ?"
        else:
            source, value, args = "readings r, json_each(r.components) j", "j.value", [run_id, index, component]
            where = "r.run_id = ? AND r.index_name = ? AND j.key = ?"
        ids = self._db.execute(
            f"SELECT group_concat(sid, char(10)) FROM (SELECT r.subject_id AS sid FROM {source} WHERE {where} "
            "ORDER BY r.subject_id)", args,
        ).fetchone()[0]
        cursor = self._db.execute(
            f"SELECT {value}, (r.algorithm_version != ?) + 2 * (r.topics != '[]') + 4 * (r.components != '{{}}') "
            f"FROM {source} WHERE {where} ORDER BY r.subject_id", [version, *args],
        )
        # (value, flags) of every reading into one array: no tuple is kept per row
        found = np.fromiter(chain.from_iterable(cursor), dtype=np.float64).reshape(-1, 2)
        keys = split_ids(ids)
        if len(keys) != len(found):
            raise StoreError(f"{self.path}: run {run_id!r}, index {index!r}: a subject id holds a line break")
        rows, known = roster.rows_of(keys)
        flags = found[:, 1].astype(np.int8)
        other_versions, with_topics, with_components = (int(np.count_nonzero(flags & bit)) for bit in (1, 2, 4))
        return StoredColumn(rows, found[known, 0], other_versions, with_topics, with_components)

    def component_names(self, run_id: str, index: str) -> list[str]:
        """The components any of the index's readings in the run carries, sorted."""
        rows = self._db.execute(
            "SELECT DISTINCT j.key FROM readings r, json_each(r.components) j "
            "WHERE r.run_id = ? AND r.index_name = ? AND r.components != '{}' ORDER BY j.key", (run_id, index),
        ).fetchall()
        return [r[0] for r in rows]

    def topics(self, run_id: str, index: str) -> list[tuple[str, tuple[str, ...]]]:
        """``(subject_id, topics)`` of the index's readings in the run that name any topic."""
        rows = self._db.execute(
            "SELECT subject_id, topics FROM readings WHERE run_id = ? AND index_name = ? AND topics != '[]' "
            "ORDER BY subject_id", (run_id, index),
        ).fetchall()
        return [(r[0], tuple(json.loads(r[1]))) for r in rows]

    def versions(self, run_id: str, index: str) -> dict[str, int]:
        """How many of the index's readings in the run each algorithm version scored."""
        rows = self._db.execute(
            "SELECT algorithm_version, count(*) FROM readings WHERE run_id = ? AND index_name = ? "
            "GROUP BY algorithm_version", (run_id, index),
        ).fetchall()
        return {r[0]: r[1] for r in rows}

    def previous_run(self, run_id: str) -> Run | None:
        """The finished run before ``run_id`` (for changes since last time)."""
        ids = [rid for rid, finished in self.run_states() if finished]
        here = ids.index(run_id) if run_id in ids else len(ids)
        return self.run(ids[here - 1]) if here > 0 else None


def mentions(terms: Iterable[str]) -> re.Pattern[str] | None:
    """A pattern for ``terms`` as whole words (so erasing ``ann`` leaves ``annual``), in any case,
    as written or URL-encoded; None if there are none."""
    forms = {form for term in terms if term.strip() for form in (term, quote(term, safe=""), quote_plus(term))}
    if not forms:
        return None
    words = "|".join(re.escape(form) for form in sorted(forms, key=len, reverse=True))
    return re.compile(rf"(?:(?<!\w)|(?<=%40))(?:{words})(?!\w)", re.IGNORECASE)


# every public method of the store speaks of SQLite's errors in words (see store_error)
for _name, _method in list(vars(Store).items()):
    if not _name.startswith("_") and inspect.isfunction(_method):
        setattr(Store, _name, _mapped(_method))


class Writer:
    """Collects results and commits them in groups: by count or by age, whichever comes first.

    A crash loses at most the group not yet committed; a resumed run asks for it again. It is
    given one result per pair (as ``collect`` delivers them): so a reading replaces a stored
    failure only if the run had failures before the writer began (a resumed run).
    """

    def __init__(self, store: Store, run_id: str, *, size: int = GROUP_SIZE, seconds: float = GROUP_SECONDS) -> None:
        self.store, self.run_id, self.size, self.seconds = store, run_id, size, seconds
        had_failures = store._db.execute("SELECT 1 FROM failures WHERE run_id = ? LIMIT 1", (run_id,)).fetchone()
        self._replaces = had_failures is not None
        self._items: list[Reading | Failure] = []
        self._since = 0.0

    def __call__(self, item: Reading | Failure) -> None:
        if not self._items:
            self._since = time.monotonic()
        self._items.append(item)
        if len(self._items) >= self.size:
            self.flush()
        else:
            self.flush_if_due()

    def flush_if_due(self) -> None:
        """Commit the group if its first result is older than ``seconds``."""
        if self._items and time.monotonic() - self._since >= self.seconds:
            self.flush()

    def flush(self) -> None:
        items, self._items = self._items, []
        if items:
            self.store.write(self.run_id, items, replaces=self._replaces)

    def __enter__(self) -> Writer:
        return self

    def __exit__(self, kind: type[BaseException] | None, *rest: object) -> None:
        if kind is None or not issubclass(kind, StoreUnusableError):  # after a store error, writing again fails again
            self.flush()


def _utc(moment: datetime) -> str:
    """ISO 8601 in UTC, so stored instants sort as text."""
    if moment.tzinfo is None:
        raise ValueError(f"a delivery time must carry its time zone, got {moment.isoformat()}")
    return moment.astimezone(UTC).isoformat()


def _filters(**columns: str | None) -> tuple[str, list[str]]:
    clauses = [(f"r.{name} = ?", value) for name, value in columns.items() if value is not None]
    if not clauses:
        return "", []
    return "WHERE " + " AND ".join(c for c, _ in clauses), [v for _, v in clauses]
