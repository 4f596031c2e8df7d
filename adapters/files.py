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
"""

from __future__ import annotations

import asyncio
import contextlib
import csv
import gzip
import io
import json
import math
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from aggregator.errors import Problem
from aggregator.models import Failure, FailureKind, IndexSpec, Reading, Scale, Subject
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


@dataclass(frozen=True)
class _Row:
    line: int
    fields: dict[str, Any]


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

    async def fetch(self, subjects: Sequence[Subject]) -> AsyncIterator[Reading | Failure]:
        # reading a large export is blocking work: keep the other adapters running meanwhile
        rows, problems = await asyncio.to_thread(self._read)
        if problems:
            yield self._failure(None, FailureKind.BAD_PAYLOAD, "; ".join(problems[:5]) + (
                f" (and {len(problems) - 5} more)" if len(problems) > 5 else ""))
        for subject in subjects:
            yield self._one(subject, rows)

    def _one(self, subject: Subject, rows: dict[str, list[_Row]] | None) -> Reading | Failure:
        file = self.config.path.name
        if rows is None:
            return self._failure(subject.id, FailureKind.BAD_PAYLOAD, f"{file} could not be read")
        key = self._key_of(subject)
        if key is None:
            return self._failure(subject.id, FailureKind.NOT_FOUND, f"subject has no {self.config.match} to look up")
        found = rows.get(_norm(key, self.config.match))
        if not found:
            return self._failure(subject.id, FailureKind.NOT_FOUND, f"{file} has no row for {key!r}")
        if len(found) > 1:
            lines = ", ".join(str(r.line) for r in found)
            message = f"{file} has {len(found)} rows for {key!r} (lines {lines})"
            return self._failure(subject.id, FailureKind.BAD_PAYLOAD, message)
        return self._parse(subject, found[0])

    def _parse(self, subject: Subject, row: _Row) -> Reading | Failure:
        value = self._number(row, self.config.value_column)
        if isinstance(value, str):
            return self._failure(subject.id, FailureKind.BAD_PAYLOAD, value)
        components: dict[str, float] = {}
        for component, column in self.config.components.items():
            if _field(row.fields, column) in (None, ""):
                continue  # optional: a vendor may leave a component out for some people
            parsed = self._number(row, column)
            if isinstance(parsed, str):
                return self._failure(subject.id, FailureKind.BAD_PAYLOAD, parsed)
            components[component] = parsed
        return reading_or_failure(
            self.spec, subject.id, value, raw=str(_field(row.fields, self.config.value_column)).strip(),
            components=components, topics=self._topics(row),
        )

    def _number(self, row: _Row, column: str) -> float | str:
        """The column's value as a finite float, or a message naming file, line and column."""
        text = _field(row.fields, column)
        value = None
        if isinstance(text, str | int | float) and not isinstance(text, bool):
            with contextlib.suppress(ValueError):
                value = float(str(text).strip())
        if value is None or not math.isfinite(value):
            return f"{self.config.path.name}:{row.line}: column {column!r}: expected a number, got {text!r}"
        return value

    def _topics(self, row: _Row) -> tuple[str, ...]:
        if not self.config.topics_column:
            return ()
        value = _field(row.fields, self.config.topics_column)
        items = value if isinstance(value, list) else str(value or "").split(";")
        return tuple(str(t).strip() for t in items if str(t).strip())

    def _key_of(self, subject: Subject) -> str | None:
        match = self.config.match
        return subject.id if match == "id" else subject.handle(match.removeprefix("handle:"))

    def _failure(self, subject_id: str | None, kind: FailureKind, message: str) -> Failure:
        return Failure(index=self.name, subject_id=subject_id, kind=kind, message=f"{self.name}: {message}")

    def check_inputs(self, subjects: Sequence[Subject]) -> list[Problem]:
        """The file can be read and has the key and value columns; the roster has the network."""
        where = f"indices.{self.name}.options"
        problems = []
        if self.config.match != "id":
            missing = roster_network_problem(f"{where}.match", self.config.match.removeprefix("handle:"), subjects)
            problems += [missing] if missing else []
        rows, _ = self._rows()
        if rows is None:
            return [*problems, Problem(f"{where}.path", f"cannot read {self.config.path}")]
        found = [row.fields for row in rows]
        for option in ("key_column", "value_column"):
            column = getattr(self.config, option)
            if not any(_field(fields, column) not in (None, "") for fields in found):
                seen = sorted({name for fields in found[:100] for name in fields}) or ["none"]
                problems.append(Problem(f"{where}.{option}", f"{self.config.path.name} has no {column!r} values "
                                                             f"(its columns: {', '.join(seen)})"))
        return problems

    def _rows(self) -> tuple[list[_Row] | None, list[str]]:
        """Every row of the file, and the problems of rows that could not be read."""
        path = self.config.path
        try:
            raw = path.read_bytes()
            text = (gzip.decompress(raw) if path.suffix.lower() == ".gz" else raw).decode("utf-8-sig")
        except (OSError, EOFError, gzip.BadGzipFile, UnicodeDecodeError) as exc:
            message = exc.strerror if isinstance(exc, OSError) and exc.strerror else type(exc).__name__
            return None, [f"cannot read {path.name}: {message}"]
        problems: list[str] = []
        reader = _csv_rows if self.config.file_format == "csv" else _jsonl_rows
        return list(reader(text, path.name, problems)), problems

    def _read(self) -> tuple[dict[str, list[_Row]] | None, list[str]]:
        """All rows by normalized key, and the problems of rows that name no subject."""
        path, key_column = self.config.path, self.config.key_column
        found, problems = self._rows()
        if found is None:
            return None, problems
        rows: dict[str, list[_Row]] = {}
        for row in found:
            key = _field(row.fields, key_column)
            if key in (None, ""):
                problems.append(f"{path.name}:{row.line}: column {key_column!r} is empty or missing")
                continue
            rows.setdefault(_norm(str(key), self.config.match), []).append(row)
        return rows, problems


def _csv_rows(text: str, name: str, problems: list[str]) -> Iterator[_Row]:
    reader = csv.DictReader(io.StringIO(text, newline=""))
    try:
        for fields in reader:
            if None in fields:
                problems.append(f"{name}:{reader.line_num}: more cells than header columns")
                continue
            yield _Row(reader.line_num, dict(fields))
    except csv.Error as exc:
        problems.append(f"{name}:{reader.line_num}: {exc}")


def _jsonl_rows(text: str, name: str, problems: list[str]) -> Iterator[_Row]:
    for number, line in enumerate(text.splitlines(), start=1):
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
        yield _Row(number, fields)


def _field(fields: dict[str, Any], column: str) -> Any:
    if column in fields:
        return fields[column]
    value: Any = fields
    for part in column.split("."):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value


def _norm(key: str, match: str) -> str:
    key = key.strip()
    return key if match == "id" else key.lstrip("@").casefold()


__all__ = ["FilesAdapter", "FilesConfig"]
