"""CSV or JSONL exports of any vendor, with the column mapping declared in config.

Vendor: any. Scale: declared (``scale = [lo, hi]``, omitted = unbounded). Network: none.
Config keys (``[indices.NAME.options]``)::

    path = "exports/klout.csv"     # .csv, .jsonl or .ndjson, optionally .gz; relative to the config
    format = "csv"                 # optional: csv | jsonl, else taken from the file name
    match = "handle:twitter"       # what the key column holds: "id" (roster id) or "handle:NETWORK"
    key_column = "screen_name"
    value_column = "score"
    components = { reach = "true_reach" }   # optional: component name -> column
    restates_score = ["score_change"]       # optional: components that are the score itself, its
                                            #   bounds or its changes: never named to explain it
    topics_column = "topics"       # optional: ';'-separated in CSV, a list in JSONL
    scale = [1, 100]               # optional
    higher_is_better = true
    algorithm_version = "1"
    measures = "what the vendor says the score measures"
    label = "Klout"                # optional: how the index reads in reports

JSONL field names may be dotted paths into nested objects (``score.value``). Handles match
case-insensitively with or without ``@``. A bad row becomes a Failure naming file, line and
column; the rest of the file is still read.

The export is read as a stream, a block of rows at a time, twice (once for the keys' lines,
once for the values): memory follows the block and the roster, never the size of the file.
Values are checked a column at a time (numbers, finite, within the scale) and the Readings built
without validating each again; a row that fails a check is read again on its own for its message.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
from array import array
from collections.abc import AsyncIterator, Iterator, Sequence
from pathlib import Path
from typing import Any, ClassVar, Literal, Self

import numpy as np
from numpy.typing import NDArray
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from adapters._export_rows import ExportUnreadableError, Row, field, first_rows, gc_paused, read_blocks
from aggregator.errors import Problem
from aggregator.models import Failure, FailureKind, IndexSpec, Reading, Scale, Subject, handles_on, subject_ids, utc_now
from aggregator.plugins import (
    Limits,
    reading_or_failure,
    resolve_path,
    restated_components,
    roster_network_problem,
    scale_pair,
)


class FilesConfig(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    path: Path
    format: Literal["csv", "jsonl"] | None = None
    match: str = Field(default="id", pattern=r"^(id|handle:\S+)$")
    key_column: str = "id"
    value_column: str = "score"
    components: dict[str, str] = Field(default_factory=dict)
    restates_score: tuple[str, ...] = ()
    topics_column: str | None = None
    scale: tuple[float, float] | None = None
    higher_is_better: bool = True
    algorithm_version: str = "1"
    measures: str = ""
    label: str = ""

    _resolve = field_validator("path")(resolve_path)
    _scale = field_validator("scale", mode="before")(scale_pair)

    @model_validator(mode="after")
    def _restated(self) -> Self:
        restated_components(self.restates_score, self.components)
        return self

    @property
    def file_format(self) -> str:
        if self.format:
            return self.format
        suffixes = [s.lower() for s in self.path.suffixes if s.lower() != ".gz"]
        return "jsonl" if suffixes and suffixes[-1] in {".jsonl", ".ndjson"} else "csv"


FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]

#: what the first pass finds of a subject's key, beside a line number (>= 1): not in the file,
#: on several lines, or no key to look for (no handle on the matched network)
_NOT_FOUND, _REPEATED, _KEYLESS = 0, -1, -2


class FilesAdapter:
    Config: ClassVar[type[BaseModel]] = FilesConfig

    def __init__(self, name: str, config: FilesConfig, limits: Limits | None = None) -> None:
        self.name = name
        self.config = config
        scale = Scale(lo=config.scale[0], hi=config.scale[1]) if config.scale else Scale()
        self.spec = IndexSpec(
            name=name, scale=scale, higher_is_better=config.higher_is_better,
            algorithm_version=config.algorithm_version, measures=config.measures, label=config.label,
            restates_score=config.restates_score,
        )
        # the columns read from each row, in this order: key, value, the components', topics
        self._columns = [config.key_column, config.value_column, *config.components.values(),
                         *([config.topics_column] if config.topics_column else [])]

    async def fetch(self, subjects: Sequence[Subject]) -> AsyncIterator[Reading | Failure]:
        """Two passes over the export, a block of rows at a time, so the file is never held whole.

        The first finds the line of each wanted key: a key on two lines is the vendor's mistake,
        and it must be known before anything is delivered, since each subject gets one answer.
        The second reads the rows of the keys found once. Reading is blocking work: each pass
        and each block runs in a thread, and the other adapters keep running meanwhile.

        Subjects are known by their place in ``subjects`` (read as columns: no Subject is built
        for a columnar roster), and what each pass keeps is an array over those places: a
        million subjects cost a few bytes each, not a dict entry and a list of tuples.
        """
        file = self.config.path.name
        ids = subject_ids(subjects)
        match = self.config.match
        keys = ids if match == "id" else handles_on(subjects, match.removeprefix("handle:"))
        problems: list[str] = []
        try:
            lines, repeated = await asyncio.to_thread(self._lines_of, keys, problems)
        except ExportUnreadableError as exc:
            yield self._failure(None, FailureKind.BAD_PAYLOAD, str(exc))
            for subject_id in ids:
                yield self._failure(subject_id, FailureKind.BAD_PAYLOAD, f"{file} could not be read")
            return
        if problems:
            yield self._failure(None, FailureKind.BAD_PAYLOAD, "; ".join(problems[:5]) + (
                f" (and {len(problems) - 5} more)" if len(problems) > 5 else ""))
        for position in np.flatnonzero(lines == _KEYLESS).tolist():
            yield self._failure(ids[position], FailureKind.NOT_FOUND, f"subject has no {match} to look up")
        for position, found in repeated.items():
            message = f"{file} has {len(found)} rows for {keys[position]!r} (lines {', '.join(map(str, found))})"
            yield self._failure(ids[position], FailureKind.BAD_PAYLOAD, message)
        once = np.flatnonzero(lines > 0)
        once = once[np.argsort(lines[once], kind="stable")]  # by line, then roster order
        once_lines = lines[once]
        done = 0  # how many of ``once`` (in line order) have had their answer
        blocks = read_blocks(self.config.path, self.config.file_format, self._columns, [])  # problems: told above
        try:
            while (results := await asyncio.to_thread(self._next_results, blocks, once_lines, once, ids)) is not None:
                answers, done = results
                for item in answers:
                    yield item
        except ExportUnreadableError:  # changed or gone since the first pass
            for position in once[done:].tolist():
                yield self._failure(ids[position], FailureKind.BAD_PAYLOAD, f"{file} could not be read")
        finally:
            with contextlib.suppress(ValueError):  # still running in its thread (cancelled): it closes when dropped
                blocks.close()
        for position in np.flatnonzero(lines == _NOT_FOUND).tolist():
            yield self._failure(ids[position], FailureKind.NOT_FOUND, f"{file} has no row for {keys[position]!r}")

    def _lines_of(self, keys: Sequence[str | None], problems: list[str]) -> tuple[IntArray, dict[int, list[int]]]:
        """For each subject (by place), the line its key is on: ``_NOT_FOUND``, ``_KEYLESS``, or
        ``_REPEATED`` when the key is on several lines (those lines are in the dict, by place).

        Only the wanted keys are kept while the file is read (a dict of a key to the first
        place holding it), and a line number per place in an array."""
        path, key_column, match = self.config.path, self.config.key_column, self.config.match
        lines = array("q", bytes(8 * len(keys)))  # _NOT_FOUND (0) until its line is read
        first: dict[str, int] = {}  # each wanted key (normalized) -> the first place holding it
        sharing: list[tuple[int, int]] = []  # (place, first place with the same key): rare
        for position, key in enumerate(keys):
            if key is None:
                lines[position] = _KEYLESS
            elif (held := first.setdefault(_norm(key, match), position)) != position:
                sharing.append((position, held))
        repeated: dict[int, list[int]] = {}
        for block in read_blocks(path, self.config.file_format, [key_column], problems):
            for line, (key,) in block:
                if key is None or key == "":
                    problems.append(f"{path.name}:{line}: column {key_column!r} is empty or missing")
                    continue
                place = first.get(_norm(key if isinstance(key, str) else str(key), match))
                if place is None:
                    continue
                if lines[place] == _NOT_FOUND:
                    lines[place] = line
                else:
                    repeated.setdefault(place, [lines[place]]).append(line)
        del first
        for position, held in sharing:  # a key several subjects share: each gets what it found
            lines[position] = lines[held]
            if held in repeated:
                repeated[position] = repeated[held]
        for position in repeated:
            lines[position] = _REPEATED
        return np.frombuffer(lines, dtype=np.int64), dict(sorted(repeated.items()))

    def _next_results(self, blocks: Iterator[list[Row]], once_lines: IntArray, once: IntArray,
                      ids: Sequence[str]) -> tuple[list[Reading | Failure], int] | None:
        """The answers from the next block's rows of keys found once (``once``: the places of
        their subjects, in the order of ``once_lines``, their lines), and how many of ``once``
        have been answered so far; None at the end."""
        with gc_paused():
            block = next(blocks, None)
            if block is None:
                return None
            numbers = np.fromiter((line for line, _ in block), dtype=np.int64, count=len(block))
            starts = np.searchsorted(once_lines, numbers, "left").tolist()
            ends = np.searchsorted(once_lines, numbers, "right").tolist()
            base = starts[0]
            places = once[base:ends[-1]].tolist()  # this block's subjects, in line order
            rows = [(line, fields, places[start - base:end - base])
                    for (line, fields), start, end in zip(block, starts, ends, strict=True) if end > start]
            return self._results(rows, ids), ends[-1]

    def _results(self, rows: list[tuple[int, tuple[Any, ...], list[int]]], ids: Sequence[str],
                 ) -> list[Reading | Failure]:
        """Readings of these rows, checked a column at a time; a row that fails a check is read
        again on its own, for a message naming its file, line and column."""
        if not rows:
            return []
        values = [fields[1] for _, fields, _ in rows]
        numbers = _floats(values)
        good = np.isfinite(numbers)
        scale = self.spec.scale
        if scale.lo is not None and scale.hi is not None:
            good &= (numbers >= scale.lo) & (numbers <= scale.hi)
        components: list[tuple[str, list[bool], list[float]]] = []
        for position, component in enumerate(self.config.components, start=2):
            cells = [fields[position] for _, fields, _ in rows]
            given = [cell is not None and cell != "" for cell in cells]  # optional: left out for some people
            parsed = _floats(cells)
            good &= np.isfinite(parsed) | ~np.array(given, dtype=bool)
            components.append((component, given, parsed.tolist()))
        topics = self._topics if self.config.topics_column else None
        at = utc_now()
        checked, name, version = Reading.checked, self.name, self.spec.algorithm_version
        results: list[Reading | Failure] = []
        for i, (ok, value, (line, fields, places)) in enumerate(zip(good.tolist(), numbers.tolist(), rows,
                                                                    strict=True)):
            for place in places:
                subject_id = ids[place]
                if not ok:
                    results.append(self._parse(subject_id, line, fields))
                    continue
                # every value checked above (a finite number within the scale): no validation again
                results.append(checked({
                    "index": name, "subject_id": subject_id, "value": value, "raw": str(values[i]).strip(),
                    "scale": scale, "algorithm_version": version,
                    "components": {c: parsed[i] for c, given, parsed in components if given[i]},
                    "topics": topics(fields) if topics else (), "fetched_at": at,
                }))
        return results

    def _parse(self, subject_id: str, line: int, fields: tuple[Any, ...]) -> Reading | Failure:
        """One row read value by value: a Reading, or a Failure saying what is wrong where."""
        value = self._number(line, 1, fields)
        if isinstance(value, str):
            return self._failure(subject_id, FailureKind.BAD_PAYLOAD, value)
        components: dict[str, float] = {}
        for position, component in enumerate(self.config.components, start=2):
            if fields[position] in (None, ""):
                continue  # optional: a vendor may leave a component out for some people
            parsed = self._number(line, position, fields)
            if isinstance(parsed, str):
                return self._failure(subject_id, FailureKind.BAD_PAYLOAD, parsed)
            components[component] = parsed
        topics = self._topics(fields) if self.config.topics_column else ()
        return reading_or_failure(self.spec, subject_id, value, raw=str(fields[1]).strip(),
                                  components=components, topics=topics)

    def _number(self, line: int, position: int, fields: tuple[Any, ...]) -> float | str:
        """The value at ``position`` as a finite float, or a message naming file, line and column."""
        text = fields[position]
        value = _float(text)
        if not math.isfinite(value):
            column = self._columns[position]
            return f"{self.config.path.name}:{line}: column {column!r}: expected a number, got {text!r}"
        return value

    def _topics(self, fields: tuple[Any, ...]) -> tuple[str, ...]:
        value = fields[-1]
        items = value if isinstance(value, list) else str(value or "").split(";")
        return tuple(str(t).strip() for t in items if str(t).strip())

    def _failure(self, subject_id: str | None, kind: FailureKind, message: str) -> Failure:
        return Failure(index=self.name, subject_id=subject_id, kind=kind, message=f"{self.name}: {message}")

    def check_inputs(self, subjects: Sequence[Subject]) -> list[Problem]:
        """The file can be read and has the key and value columns; the roster has the network.

        The file is read only until both columns have shown a value."""
        where = f"indices.{self.name}.options"
        problems = []
        if self.config.match != "id":
            missing = roster_network_problem(f"{where}.match", self.config.match.removeprefix("handle:"), subjects)
            problems += [missing] if missing else []
        unseen = {option: getattr(self.config, option) for option in ("key_column", "value_column")}
        names: set[str] = set()
        try:
            for number, fields in enumerate(first_rows(self.config.path, self.config.file_format, [])):
                if number < 100:
                    names.update(fields)
                unseen = {option: column for option, column in unseen.items() if field(fields, column) in (None, "")}
                if not unseen:
                    break
        except ExportUnreadableError:
            return [*problems, Problem(f"{where}.path", f"cannot read {self.config.path}")]
        seen = ", ".join(sorted(names)) or "none"
        return problems + [Problem(f"{where}.{option}", f"{self.config.path.name} has no {column!r} values "
                                                        f"(its columns: {seen})") for option, column in unseen.items()]


def _floats(values: list[Any]) -> FloatArray:
    """Each value as a float, NaN where it is not a number (a bool is not one)."""
    if set(map(type, values)) <= {str, float, int}:
        with contextlib.suppress(ValueError, OverflowError):  # some value is not a number: one by one
            return np.fromiter(map(float, values), dtype=np.float64, count=len(values))
    return np.array([_float(value) for value in values], dtype=np.float64)


def _float(value: Any) -> float:
    """A number, or a number written as text, as a float (NaN for anything else)."""
    if isinstance(value, str | int | float) and not isinstance(value, bool):
        with contextlib.suppress(ValueError, OverflowError):
            return float(value)
    return math.nan


def _norm(key: str, match: str) -> str:
    key = key.strip()
    return key if match == "id" else key.lstrip("@").casefold()

__all__ = ["FilesAdapter", "FilesConfig"]
