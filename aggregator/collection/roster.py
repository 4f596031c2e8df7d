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
from aggregator.models import UNSAFE_TEXT, Shard, Subject, Subjects, handle_maps, handles_text, subject_ids, subset

_RESERVED = {"id", "name", "synthetic"}


def load_roster(path: Path) -> Subjects:
    """Read and check the whole roster; every bad line is reported, with its line number.

    The roster is held as columns (:class:`Subjects`): each line is checked as a
    :class:`Subject`, whose fields are kept and the model dropped, so a million subjects cost
    their ids and names, not a million models."""
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            return _parse_roster(csv.DictReader(handle), str(path))
    except OSError as exc:
        raise ConfigError(f"cannot read roster: {exc.strerror}", source=str(path)) from None
    except (UnicodeDecodeError, csv.Error) as exc:
        raise ConfigError(f"roster is not a readable UTF-8 CSV file: {exc}", source=str(path)) from None


def _parse_roster(reader: csv.DictReader[str], source: str) -> Subjects:
    header = reader.fieldnames or []
    missing = [column for column in ("id", "name") if column not in header]
    if missing:
        raise ConfigError(
            f"roster header must have columns 'id' and 'name' (missing {', '.join(missing)}; "
            f"found {', '.join(header) or 'no header'})", source=source,
        )
    networks = [column for column in header if column not in _RESERVED]
    ids: list[str] = []
    names: list[str] = []
    handles: list[str] = []
    synthetic: list[bool] = []
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
        ids.append(subject.id)
        names.append(subject.name)
        handles.append(handles_text(subject.handles))
        synthetic.append(subject.synthetic)
    if problems:
        raise ConfigError(problems, source=source)
    if not ids:
        raise ConfigError("roster has no subjects", source=source)
    return Subjects(ids, names, handles, synthetic)


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
        return self._names(subject.id, subject.handles)

    def _names(self, subject_id: str, handles: dict[str, str]) -> bool:
        """Whether an entry is this id or one of these handles."""
        return _key(subject_id) in self.keys or any(_key(h) in self.keys for h in handles.values())

    def split(self, subjects: Sequence[Subject]) -> tuple[Sequence[Subject], Sequence[Subject]]:
        """(kept, opted out), each in roster order; a columnar roster gives columns."""
        if not self.keys:  # nobody opted out: the roster as it is, nothing read again
            return subjects, subset(subjects, ())
        gone = {i for i, (sid, handles) in enumerate(zip(subject_ids(subjects), handle_maps(subjects), strict=True))
                if self._names(sid, handles)}
        return subset(subjects, (i for i in range(len(subjects)) if i not in gone)), subset(subjects, sorted(gone))

    def unmatched(self, subjects: Sequence[Subject]) -> list[tuple[int, str]]:
        """Entries (line, text) that match no subject of the roster: usually a typo, and a typo
        there means someone who asked not to be scored still is."""
        if not self.entries:
            return []
        wanted = {_key(text) for _, text in self.entries}  # the entries' keys, not the roster's
        known = {key for key in map(_key, subject_ids(subjects)) if key in wanted}
        known.update(key for handles in handle_maps(subjects) for key in map(_key, handles.values()) if key in wanted)
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
    for subject_id in subject_ids(subjects):
        digest.update(subject_id.encode("utf-8") + b"\n")
    return digest.hexdigest()


def take_shard(subjects: Sequence[Subject], index: int, count: int) -> tuple[Shard, list[int]]:
    """Shard ``index`` of ``count`` of the roster, and the roster positions of its subjects (ascending)."""
    shard = Shard(index=index, count=count, roster=roster_digest(subjects), size=len(subjects))
    return shard, [i for i, subject_id in enumerate(subject_ids(subjects)) if shard_of(subject_id, count) == index]
