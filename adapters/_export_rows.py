"""Read a CSV or JSONL export in blocks of rows, each row cut down to the columns asked for.

The files adapter reads exports of a million rows or more: holding one whole (its text, a
dict per row) took gigabytes. Here the file is decoded as a stream (gzip too) and handed out
``BLOCK_ROWS`` rows at a time, each row a tuple of just the wanted columns, so what is held
is one block, whatever the size of the file. CSV goes through the compiled ``csv.reader``
with the header's positions picked by ``operator.itemgetter`` (no dict per row); JSONL
through ``json.loads``, with dotted names reaching into nested objects.

Rows that cannot be read are skipped and described in ``problems`` (file and line), as
the adapter reports them; a file that cannot be opened or decoded raises
:class:`ExportUnreadableError` with the reason in words.
"""

from __future__ import annotations

import csv
import gc
import gzip
import itertools
import json
import operator
import threading
from collections.abc import Callable, Generator, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any, TypeVar

T = TypeVar("T")

#: rows per block: big enough that per-block costs vanish, small enough to hold lightly
BLOCK_ROWS = 5_000

#: one row: its line number in the file, and the wanted columns' values in the order asked
Row = tuple[int, tuple[Any, ...]]


_pauses = 0
_pauses_lock = threading.Lock()
_gc_was_enabled = False


@contextmanager
def gc_paused() -> Iterator[None]:
    """Hold off Python's cyclic garbage collector while a block's objects are built.

    A block makes tens of thousands of objects that all live until the block is delivered:
    each such burst made the collector walk them again and again, which took more time than
    building them (half of the adapter's time). They hold no reference cycles, so nothing is
    left uncollected: the collector runs again when the last pause (of any thread) ends.
    """
    global _pauses, _gc_was_enabled
    with _pauses_lock:
        if _pauses == 0:
            _gc_was_enabled = gc.isenabled()
            gc.disable()
        _pauses += 1
    try:
        yield
    finally:
        with _pauses_lock:
            _pauses -= 1
            if _pauses == 0 and _gc_was_enabled:
                gc.enable()


class ExportUnreadableError(Exception):
    """The export cannot be opened or decoded; the message says why, naming the file."""


def read_blocks(path: Path, file_format: str, columns: Sequence[str], problems: list[str],
                *, block_rows: int | None = None) -> Generator[list[Row]]:
    """The export's rows in blocks (of ``BLOCK_ROWS``); a column the file lacks reads as None."""
    block_rows = block_rows or BLOCK_ROWS
    rows = _csv_rows if file_format == "csv" else _jsonl_rows
    with _opened(path) as text:
        stream = rows(text, path.name, tuple(columns), problems)
        while block := _guarded(path, lambda: list(itertools.islice(stream, block_rows))):
            yield block


def first_rows(path: Path, file_format: str, problems: list[str]) -> Iterator[dict[str, Any]]:
    """Each row as a mapping of every column it has (for checking a config against the file)."""
    with _opened(path) as text:
        if file_format == "csv":
            reader = csv.DictReader(text)
            try:
                yield from (row for row in reader if None not in row)
            except csv.Error as exc:
                problems.append(f"{path.name}:{reader.line_num}: {exc}")
        else:
            for _line, fields in _jsonl_objects(text, path.name, problems):
                yield fields


def field(fields: Any, column: str) -> Any:
    """A JSONL object's value for ``column``, which may be a dotted path into nested objects."""
    if column in fields:
        return fields[column]
    value: Any = fields
    for part in column.split("."):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value


@contextmanager
def _opened(path: Path) -> Iterator[IO[str]]:
    def open_text() -> IO[str]:  # closed by the `with` below
        if path.suffix.lower() == ".gz":
            return gzip.open(path, "rt", encoding="utf-8-sig", newline="")
        return path.open(encoding="utf-8-sig", newline="")

    text = _guarded(path, open_text)
    with text:
        yield text


def _guarded(path: Path, read: Callable[[], T]) -> T:
    """``read()``, with the ways a file fails to be read turned into one sentence naming it."""
    try:
        return read()
    except (OSError, EOFError, UnicodeDecodeError) as exc:  # gzip.BadGzipFile is an OSError
        strerror = exc.strerror if isinstance(exc, OSError) and not isinstance(exc, gzip.BadGzipFile) else None
        raise ExportUnreadableError(f"cannot read {path.name}: {strerror or type(exc).__name__}") from None


def _csv_rows(text: IO[str], name: str, columns: tuple[str, ...], problems: list[str]) -> Iterator[Row]:
    reader = csv.reader(text)
    cells: list[str | None]
    try:
        header = next(reader, None)
        if header is None:
            return
        width = len(header)
        at = {column: i for i, column in enumerate(header)}  # a repeated name: its last column, as DictReader
        # a column the file lacks points one past the header, where every row gets a None
        pick = operator.itemgetter(*(at.get(column, width) for column in columns))
        single = len(columns) == 1
        pad: list[str | None] = [None] * (width + 1)
        for cells in reader:  # type: ignore[assignment]  # a None is added past the last cell
            size = len(cells)
            if size == width:
                cells.append(None)
            elif size == 0:
                continue  # a blank line
            elif size > width:
                problems.append(f"{name}:{reader.line_num}: more cells than header columns")
                continue
            else:
                cells += pad[size:]  # cells the row leaves out are missing, as in DictReader
            picked = pick(cells)
            yield reader.line_num, ((picked,) if single else picked)
    except csv.Error as exc:
        problems.append(f"{name}:{reader.line_num}: {exc}")


def _jsonl_rows(text: IO[str], name: str, columns: tuple[str, ...], problems: list[str]) -> Iterator[Row]:
    for line, fields in _jsonl_objects(text, name, problems):
        yield line, tuple(field(fields, column) for column in columns)


def _jsonl_objects(text: IO[str], name: str, problems: list[str]) -> Iterator[tuple[int, dict[str, Any]]]:
    # newline="": lines end at \n, \r\n or \r, and keep their ends (json.loads ignores them)
    for number, line in enumerate(text, start=1):
        if not line.strip():
            continue
        try:
            fields = json.loads(line)
        except json.JSONDecodeError as exc:
            problems.append(f"{name}:{number}: not valid JSON ({exc.msg} at column {exc.colno})")
            continue
        if not isinstance(fields, dict):
            problems.append(f"{name}:{number}: expected a JSON object, got {type(fields).__name__}")
            continue
        yield number, fields

