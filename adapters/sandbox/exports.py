"""Export files as a user would have downloaded them from each vendor, and the matching roster.

``write_exports(population, directory)`` writes one file per vendor, only for the people that
vendor knows, keyed by Twitter screen name:

=================  ==========  ===============================================================
file               format      fields
=================  ==========  ===============================================================
klout.csv          CSV         screen_name, score, true_reach, amplification, network (2 dp)
peerindex.jsonl    JSON Lines  screen_name, peerindex, authority, audience, activity (ints),
                               topics (list of benchmark topic names)
kred.csv           CSV         screen_name, influence, outreach (ints)
empireavenue.jsonl JSON Lines  ticker, screen_name, share_price ("12.34"), eav_score ("47.310")
=================  ==========  ===============================================================

Empire Avenue knew people by ticker; ours are the handle's letters and digits, upper-cased,
at most 8 characters, with 2, 3, ... appended on a clash (first come, first served, in roster
order). ``screen_name`` is there too, so every file matches the roster's ``twitter`` column.

PeerIndex ``topics`` are made up from a hash of the person's id (the source data has no
content to find topics in); they exist to exercise the topics column, not to mean anything.

``write_roster(population, path)`` writes ``id,name,twitter`` (plus ``synthetic`` when the
population has synthetic subjects), which is what ``aggregator.roster`` reads.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from adapters.sandbox._kernels import id_uniform
from adapters.sandbox.formulas import VendorScores
from adapters.sandbox.population import Population
from adapters.sandbox.vendors import VENDORS, score

#: PeerIndex's eight benchmark topics (notes §2.2).
BENCHMARK_TOPICS = (
    "Business and Finance", "Arts, Media and Entertainment", "Health and Medical",
    "Technology and Internet", "Sports", "Science and Environment", "Leisure and Lifestyle",
    "News and society",
)

Cell = str | int
_Record = dict[str, Cell | list[str]]


@dataclass(frozen=True)
class ExportInfo:
    """Where one vendor's export is and how to read it (what the ``files`` adapter needs)."""

    path: Path
    key_column: str
    value_column: str
    #: component name -> column (or JSON field) holding it
    components: dict[str, str] = field(default_factory=dict)
    topics_column: str | None = None
    #: (lo, hi) of a bounded scale; None when the scale is unbounded
    scale: tuple[float, float] | None = None
    higher_is_better: bool = True
    algorithm_version: str = "1"
    measures: str = ""
    label: str = ""


@dataclass(frozen=True)
class _Format:
    file_name: str
    value_column: str
    #: formats a value (or component) the way the vendor wrote it
    cell: Callable[[float], Cell]
    components: tuple[str, ...]
    component_cell: Callable[[float], Cell]
    topics_column: str | None = None
    ticker: bool = False


def _fixed(decimals: int) -> Callable[[float], str]:
    return lambda value: f"{value:.{decimals}f}"


def _whole(value: float) -> int:
    return round(value)


_FORMATS = {
    "klout": _Format("klout.csv", "score", _fixed(2), ("true_reach", "amplification", "network"), _fixed(2)),
    "peerindex": _Format(
        "peerindex.jsonl", "peerindex", _whole, ("authority", "audience", "activity"), _whole,
        topics_column="topics",
    ),
    "kred": _Format("kred.csv", "influence", _whole, ("outreach",), _whole),
    "empireavenue": _Format(
        "empireavenue.jsonl", "share_price", _fixed(2), ("eav_score",), _fixed(3), ticker=True
    ),
}


def write_exports(population: Population, directory: Path, *, version: int = 1) -> dict[str, ExportInfo]:
    """Write every vendor's export into ``directory`` (created if needed); vendor -> ExportInfo.

    ``version`` is an algorithm era: vendors without that version use their newest one at or
    below it (only Klout has a version 2, its 2011 recalibration).
    """
    directory.mkdir(parents=True, exist_ok=True)
    infos = {}
    for name, fmt in _FORMATS.items():
        path = directory / fmt.file_name
        records = _records(fmt, population, score(name, population, version=version))
        if fmt.file_name.endswith(".csv"):
            columns = [*(["ticker"] if fmt.ticker else []), "screen_name", fmt.value_column, *fmt.components]
            _write_csv(path, columns, records)
        else:
            _write_jsonl(path, records)
        spec = VENDORS[name].spec(version)
        lo, hi = spec.scale.lo, spec.scale.hi
        infos[name] = ExportInfo(
            path=path,
            key_column="screen_name",
            value_column=fmt.value_column,
            components={component: component for component in fmt.components},
            topics_column=fmt.topics_column,
            scale=(lo, hi) if lo is not None and hi is not None else None,
            higher_is_better=spec.higher_is_better,
            algorithm_version=spec.algorithm_version,
            measures=spec.measures,
            label=spec.label,
        )
    return infos


def _records(fmt: _Format, population: Population, scores: VendorScores) -> list[_Record]:
    """One record per person the vendor knows, in population order, formatted as it wrote them."""
    rows = np.flatnonzero(scores.known)
    tickers = _tickers([population.handles[i] for i in rows]) if fmt.ticker else []
    topics = _topics([population.ids[i] for i in rows]) if fmt.topics_column else []
    records = []
    for position, i in enumerate(rows):
        record: _Record = {"ticker": tickers[position]} if fmt.ticker else {}
        record["screen_name"] = population.handles[i]
        record[fmt.value_column] = fmt.cell(float(scores.values[i]))
        for component in fmt.components:
            record[component] = fmt.component_cell(float(scores.components[component][i]))
        if fmt.topics_column:
            record[fmt.topics_column] = topics[position]
        records.append(record)
    return records


def write_roster(population: Population, path: Path) -> None:
    """The roster CSV for a population: ``id,name,twitter`` (+ ``synthetic`` if any are)."""
    with_synthetic = bool(population.synthetic.any())
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "name", "twitter", *(["synthetic"] if with_synthetic else [])])
        for i, subject_id in enumerate(population.ids):
            row = [subject_id, population.names[i], population.handles[i]]
            if with_synthetic:
                row.append("true" if population.synthetic[i] else "false")
            writer.writerow(row)


def _write_csv(path: Path, columns: list[str], records: list[_Record]) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns)
        writer.writeheader()
        writer.writerows(records)


def _write_jsonl(path: Path, records: list[_Record]) -> None:
    with path.open("w", encoding="utf-8") as handle:
        for record in records:
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")


def _tickers(handles: Sequence[str]) -> list[str]:
    """Upper-case tickers from handles: letters then trailing digits, 8 characters at most."""
    taken: set[str] = set()
    tickers = []
    for handle in handles:
        letters_digits = re.sub(r"[^A-Za-z0-9]", "", handle).upper()
        head = letters_digits.rstrip("0123456789")
        digits = letters_digits[len(head):][-8:]
        base = (head[: 8 - len(digits)] + digits) or "X"
        ticker, clash = base, 1
        while ticker in taken:
            clash += 1
            ticker = f"{base}{clash}"
        taken.add(ticker)
        tickers.append(ticker)
    return tickers


def _topics(ids: Sequence[str]) -> list[list[str]]:
    """One to three benchmark topics per person, fixed by a hash of the id."""
    count = 1 + np.floor(id_uniform(ids, "peerindex/topic-count") * 3).astype(int)
    picks = [
        np.floor(id_uniform(ids, f"peerindex/topic-{slot}") * len(BENCHMARK_TOPICS)).astype(int)
        for slot in range(3)
    ]
    topics = []
    for row in range(len(ids)):
        chosen = dict.fromkeys(BENCHMARK_TOPICS[picks[slot][row]] for slot in range(count[row]))
        topics.append(list(chosen))
    return topics
