"""People's judgments of who is more influential: a CSV of judged pairs over the roster.

::

    a,b,winner,judge
    ada,@grace,ada,rater-7
    p0012,p0450,p0450,

``a`` and ``b`` name two roster subjects, by id or by any of their handles (``@`` optional,
case ignored); ``winner`` names one of them the same way. ``judge`` is optional and only
counted. Several rows may judge the same pair (several judges, or one judge twice): each row
is one judgment.

A bad row (an unknown subject, a subject judged against itself, a winner that is neither
``a`` nor ``b``, a missing or extra cell) is a :class:`~aggregator.errors.Problem` with its line
number, and the other rows are used (a problem never names a subject who opted out); a file
that cannot be read, has no ``a,b,winner`` header or has no usable row at all is a
:class:`~aggregator.errors.ConfigError`.
"""

from __future__ import annotations

import csv
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from pathlib import Path

from aggregator.errors import ConfigError, Problem
from aggregator.models import Subject, handle_maps, subject_ids

REQUIRED_COLUMNS = ("a", "b", "winner")
#: how much of an unknown name a problem repeats
_ECHO_CHARS = 60


@dataclass(frozen=True)
class Judgments:
    """The usable judgments of a file, as ``(winner id, loser id)``, and what was wrong with the rest."""

    pairs: tuple[tuple[str, str], ...]
    problems: tuple[Problem, ...]
    source: str
    #: distinct names in the ``judge`` column (0 without one)
    judges: int = 0

    @property
    def rows(self) -> int:
        """Data rows read: the usable ones and the bad ones."""
        return len(self.pairs) + len(self.problems)


def _key(text: str) -> str:
    return text.strip().lstrip("@").casefold()


def _names(subjects: Sequence[Subject]) -> dict[str, set[str]]:
    """Every id and handle, as a key, to the ids of the subjects it names."""
    names: dict[str, set[str]] = {}
    for subject_id, handles in zip(subject_ids(subjects), handle_maps(subjects), strict=True):
        for name in (subject_id, *handles.values()):
            names.setdefault(_key(name), set()).add(subject_id)
    return names


def _echo(text: str) -> str:
    return repr(text if len(text) <= _ECHO_CHARS else text[: _ECHO_CHARS - 1] + "…")


def load_judgments(path: Path, roster: Sequence[Subject], opted_out: Collection[str] = ()) -> Judgments:
    """Read a judgments file against the roster; bad rows become line-numbered problems.

    ``opted_out``: ids of roster subjects who asked not to be scored; problems never name them.
    """
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            return parse_judgments(csv.DictReader(handle), roster, str(path), opted_out)
    except OSError as exc:
        raise ConfigError(f"cannot read the judgments file: {exc.strerror}", source=str(path)) from None
    except (UnicodeDecodeError, csv.Error) as exc:
        raise ConfigError(f"the judgments file is not a readable UTF-8 CSV file: {exc}", source=str(path)) from None


def parse_judgments(reader: csv.DictReader[str], roster: Sequence[Subject], source: str,
                    opted_out: Collection[str] = ()) -> Judgments:
    header = [name.strip() for name in reader.fieldnames or []]
    reader.fieldnames = header
    missing = [column for column in REQUIRED_COLUMNS if column not in header]
    if missing:
        raise ConfigError(
            f"the judgments header must have columns a, b and winner (missing {', '.join(missing)}; "
            f"found {', '.join(header) or 'no header'})", source=source,
        )
    names = _names(roster)
    hidden = set(opted_out)

    def shown(subject_id: str) -> str:
        return "a subject who opted out" if subject_id in hidden else repr(subject_id)

    pairs: list[tuple[str, str]] = []
    problems: list[Problem] = []
    judges: set[str] = set()
    for row in reader:
        where = f"line {reader.line_num}"
        if None in row:
            problems.append(Problem(where, f"more cells than the {len(header)} header columns"))
            continue
        found: dict[str, str] = {}
        for column in REQUIRED_COLUMNS:
            text = (row[column] or "").strip()
            ids = names.get(_key(text), set()) if text else set()
            if not text:
                problems.append(Problem(f"{where}, column {column}", "empty: expected a subject id or handle"))
            elif not ids:
                problems.append(Problem(f"{where}, column {column}",
                                        f"unknown subject {_echo(text)}: not an id or handle on the roster"))
            elif len(ids) > 1:
                problems.append(Problem(f"{where}, column {column}",
                                        f"{_echo(text)} names {len(ids)} roster subjects "
                                        f"({', '.join(sorted(map(shown, ids)))}); use the subject id"))
            else:
                found[column] = next(iter(ids))
        if len(found) < len(REQUIRED_COLUMNS):
            continue
        a, b, winner = found["a"], found["b"], found["winner"]
        if a == b:
            who = "a subject who opted out" if a in hidden else f"subject {a!r}"
            problems.append(Problem(where, f"{who} is judged against itself"))
        elif winner not in (a, b):
            problems.append(Problem(f"{where}, column winner",
                                    f"the winner {shown(winner)} is neither a ({shown(a)}) nor b ({shown(b)})"))
        else:
            pairs.append((winner, b if winner == a else a))
            judge = (row.get("judge") or "").strip()
            if judge:
                judges.add(judge)
    if not pairs:
        raise ConfigError([*problems, Problem("", "no usable judgment in the file")] if problems
                          else "the judgments file has no rows", source=source)
    return Judgments(pairs=tuple(pairs), problems=tuple(problems), source=source, judges=len(judges))


__all__ = ["REQUIRED_COLUMNS", "Judgments", "load_judgments", "parse_judgments"]
