"""Past the shortlist size the report's standing is shortened and the full one goes beside it as CSV."""

from __future__ import annotations

import csv
import dataclasses
import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aggregator.app.api import RunResult
from aggregator.models import IndexSpec, Scale, Subject
from reports import standing_csv
from reports.csv_cells import float_cells, text_cells, whole_cells
from reports.model import build_view
from reports.sections.standing import SHORTLIST_PAST
from reports.standing_csv import write_report

from .conftest import make_outcome

#: names a spreadsheet would run as formulas, and other awkward text
HOSTILE = ("=HYPERLINK(\"http://127.0.0.1/x\",\"y\")", "+1+1", "-2+3", "@SUM(A1)", "\tTab", "\rReturn",
           'Quote "q" inside', "Line\nbreak", "Zoë Ünïcode", "Plain")


def roster_outcome(n: int, k: int = 3, seed: int = 5):
    rng = np.random.default_rng(seed)
    specs = tuple(IndexSpec(name=f"index{j}", label=f"{'-' if j == 0 else ''}Index {j}", scale=Scale(lo=0, hi=100))
                  for j in range(k))
    raw = rng.uniform(0, 100, (n, k))
    raw[rng.random(raw.shape) < 0.1] = np.nan
    subjects = tuple(Subject(id=f"id{i}", name=f"{HOSTILE[i % len(HOSTILE)]} {i}") for i in range(n))
    return make_outcome(raw, subjects, specs, ())


@pytest.fixture(scope="module")
def big():
    return roster_outcome(SHORTLIST_PAST * 3)


def read_csv(path: Path) -> list[list[str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.reader(handle))


def safe_cell(text: str) -> str:
    """OWASP's defence as the module docstring defines it: a leading ``'`` when the text could start a formula."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def test_text_cells_neutralise_every_formula_start_and_nothing_else_and_quote_every_cell():
    given = [*HOSTILE, "", '"=1"', "'x", "a,b", " =lead", "\n=1", "＝fullwidth"]
    assert text_cells(given).to_pylist() == ['"' + safe_cell(t).replace('"', '""') + '"' for t in given]
    assert text_cells(["=1"]).to_pylist() == ['"\'=1"'] and text_cells(['q"']).to_pylist() == ['"q"""']


#: floats at every notation boundary of ``repr`` and Arrow, and their neighbours
EDGES = [0.0, -0.0, 5e-324, -5e-324, 2.2250738585072014e-308, 1.7976931348623157e308, 1e-7, 1e-6, 1e-5, 1e-4,
         1e10, 1e15, 1e16, 1e17, 1e21, 1e22, 2.0**53, 2.0**53 + 2, 0.1, 0.30000000000000004, 123.456, 1234567.0,
         9999999999.0, 9999999999.5, 99.95, 52.0, -52.0, 1.0, -1.0, math.inf, -math.inf]


def test_float_cells_are_reprs_at_every_boundary_and_over_many_magnitudes():
    rng = np.random.default_rng(3)
    near = [math.nextafter(v, w) for v in EDGES if math.isfinite(v) for w in (-math.inf, math.inf)]
    spread = rng.uniform(-1, 1, 200_000) * 10.0 ** rng.uniform(-12, 20, 200_000)  # every notation
    whole = np.round(rng.uniform(-1e11, 1e11, 20_000))
    tenths = np.floor(rng.uniform(-1000, 1000, 20_000) * 10 + 0.5) / 10  # consensus and spread, half up
    values = np.concatenate([EDGES, near, spread, whole, tenths, rng.uniform(0, 100, 50_000), [np.nan] * 3])
    assert float_cells(values).to_pylist() == ["" if v != v else repr(v) for v in values.tolist()]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.floats(allow_nan=True, allow_infinity=True), max_size=50))
def test_float_cells_read_back_as_the_same_floats(values):
    cells = float_cells(np.array(values, dtype=np.float64)).to_pylist()
    assert cells == ["" if v != v else repr(v) for v in values]
    assert [float(c) if c else math.nan for c in cells] == pytest.approx(values, nan_ok=True, rel=0, abs=0)


def test_whole_cells_are_integers_and_empty_for_none():
    cells = whole_cells(np.array([1.0, 100.0, -0.0, 0.0, np.nan, 1e6])).to_pylist()
    assert cells == ["1", "100", "0", "0", "", "1000000"]


def test_the_csv_holds_every_subject_in_the_page_order_with_inert_names(big, tmp_path):
    written = write_report(big, tmp_path / "report.html", "html")
    assert written == [tmp_path / "report.html", tmp_path / "report.standing.csv"]
    header, *rows = read_csv(tmp_path / "report.standing.csv")
    n = len(big.subjects)
    assert header[:8] == ["rank", "subject_id", "name", "consensus", "spread", "indices", "disputed", "odd_one_out"]
    assert header[8:10] == ["'-Index 0 standing", "'-Index 0 raw"]  # labels are outside text too
    assert sorted(row[1] for row in rows) == sorted(s.id for s in big.subjects)
    by_id = {s.id: s.name for s in big.subjects}
    for row in rows:
        name = by_id[row[1]]
        assert row[2] == ("'" + name if name[0] in "=+-@\t\r" else name)
    # ranks and consensus as the page orders them, figures as plain numbers
    ranked = [int(row[0]) for row in rows if row[0]]
    assert ranked == sorted(ranked) and ranked[0] == 1
    consensus = [float(row[3]) for row in rows if row[3]]
    assert consensus == sorted(consensus, reverse=True)
    comparison = big.comparison
    position = {sid: i for i, sid in enumerate(comparison.table.subject_ids)}
    for row in rows[:50]:
        i = position[row[1]]
        raw = comparison.table.raw[i, 0]
        assert (row[9] == "") if np.isnan(raw) else (float(row[9]) == raw)  # raw scores unrounded
        assert row[6] == ("yes" if comparison.flagged[i] else "no")
    # the page lists a few of them, in the same order, and links the CSV beside it
    view = build_view(big)
    assert len(view.standing) < n
    listed = [r.subject_id for r in view.standing]
    in_csv = [row[1] for row in rows if row[1] in set(listed)]
    assert in_csv == listed
    page = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert '<a href="report.standing.csv" download>' in page
    assert f"The full standing of all {n:,} is in the CSV file report.standing.csv, beside this report." in page


def test_the_text_and_json_reports_say_the_same(big, tmp_path):
    write_report(big, tmp_path / "week.json", "json")
    write_report(big, tmp_path / "week.txt", "text")
    document = json.loads((tmp_path / "week.json").read_text(encoding="utf-8"))
    meta = document["meta"]
    assert meta["standing_csv"] == "week.standing.csv"
    assert len(document["standing"]) < meta["subjects"] == len(big.subjects)
    text = " ".join((tmp_path / "week.txt").read_text(encoding="utf-8").split())
    assert meta["shortlist"] in text
    assert "is in the CSV file week.standing.csv, beside this report." in text
    assert len(read_csv(tmp_path / "week.standing.csv")) == len(big.subjects) + 1


def test_up_to_the_shortlist_size_the_page_lists_everyone_and_no_csv_is_written(tmp_path):
    outcome = roster_outcome(SHORTLIST_PAST)
    assert write_report(outcome, tmp_path / "report.html", "html") == [tmp_path / "report.html"]
    assert not list(tmp_path.glob("*.csv"))
    assert len(build_view(outcome).standing) == SHORTLIST_PAST
    assert "standing.csv" not in (tmp_path / "report.html").read_text(encoding="utf-8")


def test_written_to_standard_output_the_report_says_where_the_csv_would_go(big):
    view = build_view(big)
    assert view.meta.standing_csv is None
    assert view.meta.shortlist is not None
    assert "goes beside the report as a CSV file when the report is written to a file" in view.meta.shortlist


def test_the_api_writes_the_csv_beside_the_report(big, tmp_path):
    path = RunResult(big).write(tmp_path / "out" / "run.html")
    assert path == tmp_path / "out" / "run.html"
    assert len(read_csv(tmp_path / "out" / "run.standing.csv")) == len(big.subjects) + 1


def csv_by_definition(outcome) -> str:
    """The standing CSV cell by cell, as the module docstring defines it: text quoted (a quote
    doubled, a formula start neutralised), figures bare (``repr`` of the float, whole numbers for
    ranks, standings and counts), empty where there is none; one line per subject in standing order."""
    comparison = outcome.comparison
    labels = [spec.label or spec.name for spec in comparison.table.specs]

    def text(value: str) -> str:
        return '"' + safe_cell(value).replace('"', '""') + '"'

    def figure(value: float, whole: bool = False) -> str:
        return "" if np.isnan(value) else str(int(value)) if whole else repr(float(value))

    def half_up(value: float, digits: int) -> float:
        return float(np.floor(value * 10.0**digits + 0.5) / 10.0**digits)

    header = ["rank", "subject_id", "name", "consensus", "spread", "indices", "disputed", "odd_one_out"]
    header += [f"{label} {what}" for label in labels for what in ("standing", "raw")]
    lines = [",".join(map(text, header))]
    consensus = comparison.consensus
    order = sorted(range(len(consensus)), key=lambda i: (np.isnan(consensus[i]), -np.nan_to_num(consensus[i]), i))
    for i in order:
        higher = int(np.sum(consensus > consensus[i]))
        dissenter = int(comparison.dissenter[i])
        cells = [figure(np.nan if np.isnan(consensus[i]) else higher + 1, whole=True),
                 text(outcome.subjects[i].id), text(outcome.subjects[i].name),
                 figure(half_up(consensus[i], 1)), figure(half_up(comparison.spread[i], 1)),
                 figure(comparison.n_indices[i], whole=True), text("yes" if comparison.flagged[i] else "no"),
                 text(labels[dissenter] if comparison.flagged[i] and dissenter >= 0 else "")]
        for j in range(len(labels)):
            cells += [figure(half_up(comparison.normalized[i, j], 0), whole=True), figure(comparison.table.raw[i, j])]
        lines.append(",".join(cells))
    return "".join(line + "\r\n" for line in lines)


def test_the_csv_is_written_byte_for_byte_as_defined_across_blocks(tmp_path, monkeypatch):
    outcome = roster_outcome(SHORTLIST_PAST + 150, k=4, seed=9)
    raw = outcome.comparison.table.raw
    raw[:40, 1] = np.round(raw[:40, 1])  # repeated values, formatted once
    raw[40:45, 2] = -0.0  # stays "-0.0", apart from 0.0
    raw[45:50, 2] = 0.0
    raw[50:60, :3] = np.nan  # scored by one index at most: no consensus, last
    outcome = make_outcome(raw, outcome.subjects, outcome.comparison.table.specs, ())
    monkeypatch.setattr(standing_csv, "BLOCK", 97)  # several blocks, the last one short
    path = tmp_path / "standing.csv"
    with path.open("wb") as handle:
        standing_csv.write_standing_csv(outcome, handle)
    written = path.read_bytes().decode("utf-8")
    assert written == csv_by_definition(outcome)
    assert ",-0.0," in written and ",0.0," in written


def test_the_view_of_one_outcome_is_built_once_and_names_the_csv_when_asked(big):
    first = build_view(big)
    named = build_view(big, standing_csv="week.standing.csv")
    assert named.standing is first.standing  # the sections were not computed again
    assert (first.meta.standing_csv, named.meta.standing_csv) == (None, "week.standing.csv")
    assert "is in the CSV file week.standing.csv" in named.meta.shortlist
    fresh = dataclasses.replace(big)  # another outcome with the same figures: built anew, the same view
    assert build_view(fresh, standing_csv="week.standing.csv") == named
    assert build_view(fresh).standing is not first.standing


def test_writing_the_csv_does_not_import_pandas():
    # pyarrow's pa.array and pa.scalar import pandas when it is installed: 0.3 s, more than 100,000 subjects' cells
    script = """
import io, sys
import numpy as np
from aggregator.analytics.compare import ScoreTable, compare_table
from aggregator.analytics.outcome import RunOutcome
from aggregator.models import IndexSpec, Run, Scale, Subject, utc_now
from reports.standing_csv import write_standing_csv
specs = (IndexSpec(name="a", scale=Scale(lo=0, hi=100)), IndexSpec(name="b", scale=Scale(lo=0, hi=100)))
raw = np.random.default_rng(1).uniform(0, 100, (600, 2))
subjects = [Subject(id=f"s{i}", name=f"=Name {i}") for i in range(600)]
comparison = compare_table(ScoreTable(tuple(s.id for s in subjects), specs, raw))
outcome = RunOutcome(run=Run(id="r", started_at=utc_now(), config_digest="x"), subjects=subjects,
                     comparison=comparison, failures=())
out = io.BytesIO()
write_standing_csv(outcome, out)
print(out.getvalue().count(b"\\r\\n"), "pandas" in sys.modules)
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["601", "False"]
