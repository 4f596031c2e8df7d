"""The roster (who is compared) and the opt-out list (who must never be fetched, stored or shown).

Roster CSV: a header with ``id`` and ``name``, then any number of handle columns named after
their network (``twitter``, ``klout``, ``ticker`` ...); an empty cell means no handle there.
A ``synthetic`` column (``true``/``false``) marks demo subjects that are not real people.

Opt-out file: one subject id or handle per line (``@`` optional, case ignored), ``#`` comments.
"""

from __future__ import annotations

import csv
import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError

from aggregator.errors import ConfigError, Problem
from aggregator.models import UNSAFE_TEXT, Shard, Subject

_RESERVED = {"id", "name", "synthetic"}


def load_roster(path: Path) -> list[Subject]:
    """Read and check the whole roster; every bad line is reported, with its line number."""
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            return _parse_roster(csv.DictReader(handle), str(path))
    except OSError as exc:
        raise ConfigError(f"cannot read roster: {exc.strerror}", source=str(path)) from None
    except (UnicodeDecodeError, csv.Error) as exc:
        raise ConfigError(f"roster is not a readable UTF-8 CSV file: {exc}", source=str(path)) from None


def _parse_roster(reader: csv.DictReader[str], source: str) -> list[Subject]:
    header = reader.fieldnames or []
    missing = [column for column in ("id", "name") if column not in header]
    if missing:
        raise ConfigError(
            f"roster header must have columns 'id' and 'name' (missing {', '.join(missing)}; "
            f"found {', '.join(header) or 'no header'})", source=source,
        )
    networks = [column for column in header if column not in _RESERVED]
    subjects: list[Subject] = []
    first_line: dict[str, int] = {}
    handle_line: dict[tuple[str, str], int] = {}
    problems: list[Problem] = []
    for row in reader:
        line = reader.line_num
        if None in row:
            problems.append(Problem(f"line {line}", f"more cells than the {len(header)} header columns"))
            continue
        unsafe = [column for column, cell in row.items() if cell and UNSAFE_TEXT.search(cell)]
        if unsafe:
            problems.extend(Problem(f"line {line}, column {column}", "holds a control or bidirectional-override "
                                    "character (line break, NUL, ESC, U+202E ...); remove it") for column in unsafe)
            continue
        subject_id = (row["id"] or "").strip()
        if subject_id in first_line:
            first = first_line[subject_id]
            problems.append(Problem(f"line {line}", f"duplicate id {subject_id!r} (first on line {first})"))
            continue
        try:
            subject = Subject(
                id=subject_id, name=(row["name"] or "").strip(),
                handles={n: row[n].strip().lstrip("@") for n in networks if (row[n] or "").strip()},
                synthetic=(row.get("synthetic") or "").strip().lower() in {"1", "true", "yes"},
            )
        except ValidationError as exc:
            for error in exc.errors(include_url=False):
                field = ".".join(str(part) for part in error["loc"])
                problems.append(Problem(f"line {line}, column {field}", f"{error['msg']} (got {error['input']!r})"))
            continue
        for network, name in subject.handles.items():
            seen = handle_line.setdefault((network, name.casefold()), line)
            if seen != line:
                problems.append(Problem(f"line {line}, column {network}",
                                        f"handle {name!r} is also on line {seen}: one person per handle"))
        first_line[subject_id] = line
        subjects.append(subject)
    if problems:
        raise ConfigError(problems, source=source)
    if not subjects:
        raise ConfigError("roster has no subjects", source=source)
    return subjects


@dataclass(frozen=True)
class OptOut:
    """Ids and handles of people who asked not to be scored."""

    keys: frozenset[str] = frozenset()
    #: each key's line in the file, as written there (for warnings about entries matching nobody)
    entries: tuple[tuple[int, str], ...] = ()

    @classmethod
    def from_lines(cls, lines: Iterable[str]) -> OptOut:
        entries = tuple((n, text) for n, line in enumerate(lines, start=1) if (text := line.split("#", 1)[0].strip()))
        return cls(frozenset(_key(text) for _, text in entries) - {""}, entries)

    @classmethod
    def load(cls, path: Path | None) -> OptOut:
        if path is None:
            return cls()
        try:
            return cls.from_lines(path.read_text(encoding="utf-8").splitlines())
        except OSError as exc:
            raise ConfigError(f"cannot read opt-out list: {exc.strerror}", source=str(path)) from None

    def covers(self, subject: Subject) -> bool:
        return _key(subject.id) in self.keys or any(_key(h) in self.keys for h in subject.handles.values())

    def split(self, subjects: Sequence[Subject]) -> tuple[list[Subject], list[Subject]]:
        """(kept, opted out)."""
        kept = [s for s in subjects if not self.covers(s)]
        gone = [s for s in subjects if self.covers(s)]
        return kept, gone

    def unmatched(self, subjects: Sequence[Subject]) -> list[tuple[int, str]]:
        """Entries (line, text) that match no subject of the roster: usually a typo, and a typo
        there means someone who asked not to be scored still is."""
        known = {_key(s.id) for s in subjects} | {_key(h) for s in subjects for h in s.handles.values()}
        return [(line, text) for line, text in self.entries if _key(text) not in known]

    def warnings(self, subjects: Sequence[Subject], path: Path | None) -> list[str]:
        """One line per entry that matches nobody, naming the file, line and entry."""
        return [f"{path}:{line}: opt-out entry {text!r} matches no one in the roster (a typo? that person "
                "would still be scored)" for line, text in self.unmatched(subjects)]


def _key(text: str) -> str:
    return text.strip().lstrip("@").casefold()


# -- shards -------------------------------------------------------------------------------------


def shard_of(subject_id: str, count: int) -> int:
    """The shard (1 .. ``count``) a subject belongs to: the first 8 bytes of the SHA-256 of its
    UTF-8 id, as a big-endian number, modulo ``count``, plus one.

    SHA-256, not Python's ``hash()`` (salted per process): every collector, on any machine and
    Python version, puts a subject in the same shard, whatever the roster's order.

    >>> [shard_of("ann", 3), shard_of("cy", 3), shard_of("ann", 1)]
    [3, 1, 1]
    """
    digest = hashlib.sha256(subject_id.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") % count + 1


def roster_digest(subjects: Sequence[Subject]) -> str:
    """A digest of the roster's ids in order: the shards of one roster share it."""
    digest = hashlib.sha256()
    for subject in subjects:
        digest.update(subject.id.encode("utf-8") + b"\n")
    return digest.hexdigest()


def take_shard(subjects: Sequence[Subject], index: int, count: int) -> tuple[Shard, list[int]]:
    """Shard ``index`` of ``count`` of the roster, and the roster positions of its subjects (ascending)."""
    shard = Shard(index=index, count=count, roster=roster_digest(subjects), size=len(subjects))
    return shard, [i for i, subject in enumerate(subjects) if shard_of(subject.id, count) == index]
