"""Activity features in, named components out: the transforms the in-house score is built on.

The inputs are the 11 per-account activity features of the PeerIndex pairs data (see
``FEATURES``). The score uses eight *terms*, each one interpretable transform of one or two
features (a log, a rate per post, a smoothed ratio); terms add up to six *components*, the
parts a person reads in a report (see ``COMPONENTS`` for one sentence on each).

Two rules hold by construction and are tested as properties:

* **monotone**: every term rises with what it measures (followers, list memberships,
  retweets and mentions received, network statistics), and the model gives each term a
  non-decreasing curve, so more reach or amplification never lowers the score;
* **not an activity meter**: what someone *sends* (posts, mentions and retweets sent) appears
  only as the denominator of a rate, or not at all, so posting more for the same response
  never raises the score.

``mentions_sent`` and ``retweets_sent`` are accepted in every file but deliberately unused.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
from numpy.typing import NDArray

from aggregator.atomic import atomic_open
from aggregator.errors import ConfigError, Problem

FloatArray = NDArray[np.float64]

#: The 11 activity features, in the column order of the PeerIndex pairs files.
FEATURES: tuple[str, ...] = (
    "follower_count", "following_count", "listed_count", "mentions_received",
    "retweets_received", "mentions_sent", "retweets_sent", "posts",
    "network_feature_1", "network_feature_2", "network_feature_3",
)
#: What the score cannot do without; the others may be absent (network) or are unused (sent).
REQUIRED_FEATURES: tuple[str, ...] = (
    "follower_count", "following_count", "listed_count", "mentions_received", "retweets_received", "posts",
)
NETWORK_FEATURES: tuple[str, ...] = ("network_feature_1", "network_feature_2", "network_feature_3")
#: Stop reporting after this many bad cells in one file (the count of the rest is given).
MAX_PROBLEMS = 20


@dataclass(frozen=True)
class Component:
    """A named part of the score, as a report shows it."""

    name: str
    label: str
    #: one sentence a marketer understands
    description: str


COMPONENTS: tuple[Component, ...] = (
    Component("reach", "Reach",
              "How many people could hear them: their followers, on a log scale."),
    Component("recognition", "Recognition",
              "How many people file them in curated Twitter lists: peers vouching that they are worth following."),
    Component("amplification", "Amplification",
              "How often what they post is retweeted, per post: posting more without more retweets lowers it."),
    Component("conversation", "Conversation",
              "How often others mention them, per post they write: people talking to and about them."),
    Component("network", "Network",
              "How influential the people who follow and amplify them are "
              "(PeerIndex network statistics, or PageRank in an interaction graph you supply)."),
    Component("earned_audience", "Earned audience",
              "Followers for each account they follow: an audience earned rather than traded by following back."),
)
COMPONENT_NAMES: tuple[str, ...] = tuple(c.name for c in COMPONENTS)


@dataclass(frozen=True)
class Term:
    """One transform of one or two features, feeding one component.

    ``log1p``: ``log(1 + x)``; ``log_ratio``: ``log((num + s) / (den + s))`` with smoothing ``s``.
    """

    name: str
    component: str
    kind: Literal["log1p", "log_ratio"]
    inputs: tuple[str, ...]
    smoothing: float = 0.0

    @property
    def formula(self) -> str:
        if self.kind == "log1p":
            return f"log1p({self.inputs[0]})"
        num, den = self.inputs
        return f"log(({num} + {self.smoothing:g}) / ({den} + {self.smoothing:g}))"

    def values(self, columns: Mapping[str, FloatArray]) -> FloatArray:
        """The term for many subjects at once (NaN where an input is missing)."""
        if self.kind == "log1p":  # log(x + 1): twice as fast as np.log1p, and x >= 0 here
            plus_one: FloatArray = columns[self.inputs[0]] + 1.0
            return np.log(plus_one, out=plus_one)
        num, den = (columns[name] for name in self.inputs)
        result: FloatArray = num + self.smoothing
        result /= den + self.smoothing
        return np.log(result, out=result)

    def value(self, features: Mapping[str, float]) -> float:
        """The term for one subject (NaN where an input is missing): the per-subject path."""
        if self.kind == "log1p":
            x = features.get(self.inputs[0], math.nan)
            return math.log1p(x) if x == x else math.nan
        num, den = (features.get(name, math.nan) for name in self.inputs)
        if num != num or den != den:
            return math.nan
        return math.log((num + self.smoothing) / (den + self.smoothing))


TERMS: tuple[Term, ...] = (
    Term("followers", "reach", "log1p", ("follower_count",)),
    Term("listed", "recognition", "log1p", ("listed_count",)),
    Term("retweets_per_post", "amplification", "log_ratio", ("retweets_received", "posts"), 0.1),
    Term("mentions_per_post", "conversation", "log_ratio", ("mentions_received", "posts"), 0.1),
    Term("network_1", "network", "log1p", ("network_feature_1",)),
    Term("network_2", "network", "log1p", ("network_feature_2",)),
    Term("network_3", "network", "log1p", ("network_feature_3",)),
    Term("followers_per_following", "earned_audience", "log_ratio", ("follower_count", "following_count"), 1.0),
)


def term_matrix(features: FloatArray) -> FloatArray:
    """``[subjects x TERMS]`` term values from ``[subjects x FEATURES]`` features."""
    columns = {name: features[:, j] for j, name in enumerate(FEATURES)}
    with np.errstate(invalid="ignore"):  # NaN inputs give NaN terms, which callers handle
        result: FloatArray = np.column_stack([term.values(columns) for term in TERMS])
    return result


# -- files ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Pairs:
    """Labelled pairs: ``a`` and ``b`` are ``[pairs x FEATURES]``; ``a_wins`` is 1.0 where A was judged
    more influential."""

    a: FloatArray
    b: FloatArray
    a_wins: FloatArray
    source: str = ""

    def __len__(self) -> int:
        return len(self.a_wins)


@dataclass(frozen=True)
class FeatureRows:
    """A features file: keys with their line, ``[rows x FEATURES]`` values (NaN = absent), and the
    problems of rows that could not be used, by line."""

    keys: tuple[str, ...]
    lines: tuple[int, ...]
    values: FloatArray
    bad_rows: dict[int, str]
    #: rows whose key column is empty (they can name no subject), with their problem
    unkeyed: tuple[str, ...] = ()


def parse_number(text: str | None) -> float | None:
    """A non-negative finite number, or None."""
    if text is None:
        return None
    try:
        value = float(text.strip())
    except ValueError:
        return None
    return value if math.isfinite(value) and value >= 0 else None


def _describe(text: str | None) -> str:
    if text is None or not text.strip():
        return "expected a non-negative number, got an empty cell"
    shown = text.strip()
    shown = shown if len(shown) <= 40 else shown[:37] + "..."
    return f"expected a non-negative number, got {shown!r}"


def _open_csv(path: Path) -> Iterator[tuple[int, list[str]]]:
    """(line number, cells) for every non-blank row, header first; errors name the file."""
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.reader(handle)
            for cells in reader:
                if cells and any(c.strip() for c in cells):
                    yield reader.line_num, cells
    except OSError as exc:
        raise ConfigError(f"cannot read the file: {exc.strerror or type(exc).__name__}", source=str(path)) from None
    except (UnicodeDecodeError, csv.Error) as exc:
        raise ConfigError(f"not a readable UTF-8 CSV file: {exc}", source=str(path)) from None


def read_pairs(path: Path) -> Pairs:
    """Read a pairs file in the layout of the PeerIndex ``train.csv``.

    Columns: ``Choice`` (1 = A judged more influential, 0 = B), then ``A_<feature>`` and
    ``B_<feature>`` for the 11 features; extra columns are ignored. Every problem is reported
    at once with its line and column (up to ``MAX_PROBLEMS``), as a ``ConfigError``.
    """
    rows = _open_csv(path)
    source = str(path)
    try:
        _, header = next(rows)
    except StopIteration:
        raise ConfigError("the file is empty; expected a header with Choice, A_... and B_... columns",
                          source=source) from None
    header = [h.strip() for h in header]
    wanted = ["Choice", *(f"A_{f}" for f in FEATURES), *(f"B_{f}" for f in FEATURES)]
    missing = [c for c in wanted if c not in header]
    if missing:
        raise ConfigError([Problem("line 1", f"missing column(s) {', '.join(missing)}; a pairs file needs "
                                             "Choice, A_<feature> and B_<feature> for the 11 features")],
                          source=source)
    index = [header.index(c) for c in wanted]
    problems: list[Problem] = []
    extra = 0
    data: list[list[float]] = []
    for line, cells in rows:
        row: list[float] = []
        for column, j in zip(wanted, index, strict=True):
            text = cells[j] if j < len(cells) else None
            if column == "Choice":
                value = parse_number(text)
                ok = value in (0.0, 1.0)
                message = f"expected 0 or 1, got {(text or '').strip()!r}"
            else:
                value = parse_number(text)
                ok = value is not None
                message = _describe(text)
            if not ok or value is None:
                if len(problems) < MAX_PROBLEMS:
                    problems.append(Problem(f"line {line}, column {column}", message))
                else:
                    extra += 1
                row = []
                break
            row.append(value)
        if row:
            data.append(row)
    if problems:
        if extra:
            problems.append(Problem("", f"... and {extra} more bad line(s)"))
        raise ConfigError(problems, source=source)
    if not data:
        raise ConfigError("the file has a header but no pairs", source=source)
    array = np.array(data, dtype=np.float64)
    n = len(FEATURES)
    return Pairs(a=array[:, 1:1 + n], b=array[:, 1 + n:], a_wins=array[:, 0], source=source)


def read_features(path: Path, key_column: str) -> FeatureRows:
    """Read a features file: a key column plus feature columns named as in ``FEATURES``.

    The required columns (``REQUIRED_FEATURES``) must be in the header, or the whole file is
    refused (``ConfigError``). A row with a bad cell is not refused with the file: it is kept in
    ``bad_rows`` with a message naming file, line and column, so only that subject fails.
    Absent optional columns and empty optional cells are NaN.
    """
    rows = _open_csv(path)
    source = str(path)
    name = path.name
    try:
        _, header = next(rows)
    except StopIteration:
        raise ConfigError(f"the file is empty; expected a header with {key_column!r} and feature columns",
                          source=source) from None
    header = [h.strip() for h in header]
    missing = [c for c in (key_column, *REQUIRED_FEATURES) if c not in header]
    if missing:
        raise ConfigError([Problem("line 1", f"missing column(s) {', '.join(missing)}; found {', '.join(header)}")],
                          source=source)
    key_at = header.index(key_column)
    present = [(j, header.index(f)) for j, f in enumerate(FEATURES) if f in header]
    required = set(REQUIRED_FEATURES)
    keys: list[str] = []
    lines: list[int] = []
    values: list[list[float]] = []
    bad: dict[int, str] = {}
    unkeyed: list[str] = []
    for line, cells in rows:
        key = cells[key_at].strip() if key_at < len(cells) else ""
        if not key:
            unkeyed.append(f"{name}:{line}: column {key_column!r} is empty")
            continue
        row = [math.nan] * len(FEATURES)
        if len(cells) > len(header):
            bad[len(keys)] = f"{name}:{line}: {len(cells)} cells, more than the {len(header)} header columns"
        for j, at in present if len(cells) <= len(header) else ():
            feature = FEATURES[j]
            text = cells[at] if at < len(cells) else None
            if feature not in required and (text is None or not text.strip()):
                continue
            value = parse_number(text)
            if value is None:
                bad[len(keys)] = f"{name}:{line}: column {feature!r}: {_describe(text)}"
                break
            row[j] = value
        keys.append(key)
        lines.append(line)
        values.append(row)
    array = np.array(values, dtype=np.float64).reshape(len(values), len(FEATURES))
    return FeatureRows(keys=tuple(keys), lines=tuple(lines), values=array, bad_rows=bad, unkeyed=tuple(unkeyed))


def write_features(path: Path, keys: list[str] | tuple[str, ...], features: FloatArray,
                   key_column: str = "id", feature_names: tuple[str, ...] = FEATURES) -> Path:
    """Write a features file the ``inhouse`` adapter reads (e.g. for the demo)."""
    if features.shape != (len(keys), len(feature_names)):
        raise ValueError(f"features must be {len(keys)} x {len(feature_names)}, got {features.shape}")
    with atomic_open(path, newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow([key_column, *feature_names])
        for key, row in zip(keys, features.tolist(), strict=True):
            writer.writerow([key, *(repr(v) if not float(v).is_integer() else int(v) for v in row)])
    return path


__all__ = [
    "COMPONENTS", "COMPONENT_NAMES", "FEATURES", "NETWORK_FEATURES", "REQUIRED_FEATURES", "TERMS",
    "Component", "FeatureRows", "Pairs", "Term", "parse_number", "read_features", "read_pairs", "term_matrix",
    "write_features",
]
