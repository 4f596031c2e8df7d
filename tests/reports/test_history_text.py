"""Movers' consensus over past runs as block characters, in the text report and both email parts.

Four runs against a real SQLite store. Four subjects are scored by three indices (Eve opts out),
so each index's mid-rank percentiles are 12.5, 37.5, 62.5 and 87.5. Bob (whose roster name
carries markup) comes last everywhere in run 1, is scored by one index
only in run 2 (too few for a consensus: the gap), comes second to last in run 3 and first in
run 4: a rising line ``▂·▄█`` from 13 to 88.
"""

from __future__ import annotations

import math
import re
from dataclasses import replace
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default as default_policy
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest

import aggregator
from aggregator.analytics.compare import ScoreTable, compare_table
from aggregator.analytics.outcome import ConsensusHistory
from aggregator.models import IndexSpec, Scale, Subject, subject_ids
from reports.email import MAX_HTML_BYTES, build_email
from reports.model import build_view
from reports.sections.changes import SPARK_BLOCKS, SPARK_GAP, spark_chars
from reports.text import TextRenderer

from .conftest import make_outcome

# markup in a roster name (control characters never get this far: the roster refuses them, and the
# text renderer's own cleaning of them is tested in test_text_renderer.py)
BOB = "Bob <script>alert(1)</script>[31m"
# per run: each index's scores, lowest first (Bob's place in them is what moves)
ORDERS = (
    ("bobb", "deedee", "cychan", "ann_a"),
    ("deedee", "cychan", "ann_a"),
    ("deedee", "bobb", "cychan", "ann_a"),
    ("deedee", "cychan", "ann_a", "bobb"),
)


def _exports(folder: Path, order: tuple[str, ...], *, bob_everywhere: bool) -> None:
    scores = {handle: 10 * (n + 1) for n, handle in enumerate(order)}
    klout = dict(scores)
    kred = dict(scores)
    peer = dict(scores)
    if not bob_everywhere:  # only PeerIndex scores Bob this run
        peer["bobb"] = 5
    (folder / "exports/klout.csv").write_text(
        "screen_name,score,true_reach\n" + "".join(f"{h},{v},1\n" for h, v in klout.items()))
    (folder / "exports/kred.csv").write_text(
        "screen_name,influence\n" + "".join(f"{h},{v * 10}\n" for h, v in kred.items()))
    (folder / "exports/peerindex.jsonl").write_text(
        "".join(f'{{"screen_name": "{h}", "pi": {{"score": {v}}}}}\n' for h, v in peer.items()))


def _half_up(value: float) -> int:
    return math.floor(value + 0.5)


@pytest.fixture
async def runs(project):
    """The four runs' results, oldest first; the last one is the report under test."""
    folder = project.parent
    roster = folder / "roster.csv"
    roster.write_text(roster.read_text().replace('"Bob ""The Builder"" Brown"', f'"{BOB}"'))
    results = []
    for n, order in enumerate(ORDERS):
        _exports(folder, order, bob_everywhere=n != 1)
        results.append(await aggregator.Aggregator(project).run())
    return results


def _consensus(result, subject_id: str) -> float:
    outcome = result.outcome
    row = [s.id for s in outcome.subjects].index(subject_id)
    return float(outcome.comparison.consensus[row])


def _expected(runs, subject_id: str) -> tuple[str, str]:
    """Characters and end figures worked out from each run's own comparison (not the history query)."""
    values = [_consensus(r, subject_id) for r in runs]
    known = [_half_up(v) for v in values if not math.isnan(v)]
    chars = "".join(
        SPARK_GAP if math.isnan(v) else SPARK_BLOCKS[min(int(_half_up(v) // 12.5), 7)] for v in values
    )
    return chars, f"{known[0]}→{known[-1]}"


def _email(result) -> tuple[str, str]:
    message = message_from_bytes(result.render("email"), policy=default_policy)
    assert isinstance(message, EmailMessage)
    html = message.get_body(("html",))
    text = message.get_body(("plain",))
    assert html is not None and text is not None
    return html.get_content(), text.get_content()


def test_the_mapping_is_one_place_and_on_the_drawn_scale():
    assert spark_chars([0, 12, 13, 25, 50, 62, 75, 87, 88, 100]) == "▁▁▂▃▅▅▇▇██"
    assert spark_chars([40, None, 60]) == "▄·▅"
    assert spark_chars([]) == ""


async def test_the_text_report_shows_a_rising_history_with_its_gap(runs):
    assert [_half_up(_consensus(r, "bob")) for r in (runs[0], runs[2], runs[3])] == [13, 38, 88]
    assert math.isnan(_consensus(runs[1], "bob"))
    text = runs[-1].render("text")
    assert isinstance(text, str)
    changes = text.split("Changes since run", 1)[1].split("\nIndex health", 1)[0]
    bob = next(line for line in changes.splitlines() if "Bob" in line)
    chars, ends = _expected(runs, "bob")
    assert chars == "▂·▄█" and ends == "13→88"
    spark = re.search(f"([{SPARK_BLOCKS}{SPARK_GAP}]+) (\\d+→\\d+)", bob)
    assert spark is not None and spark.groups() == (chars, ends)
    heights = [SPARK_BLOCKS.index(c) for c in chars if c != SPARK_GAP]
    assert heights == sorted(heights) and heights[-1] > heights[0]
    # every mover listed carries its own line, and they start in one column
    movers = runs[-1].outcome.comparison.shifts.movers
    lines = [line for line in changes.splitlines() if line.startswith("- ") and "moved" in line]
    assert len(lines) == len(movers) >= 2
    for line in lines:
        found = re.match(f"- ([{SPARK_BLOCKS}{SPARK_GAP}]+) (\\d+→\\d+) +(.+?) moved", line)
        assert found is not None, line
        subject = next(s.id for s in runs[-1].outcome.subjects if found.group(3).startswith(s.name[:3]))
        assert found.group(1, 2) == _expected(runs, subject)
    starts = {re.match(r"- \S+ \S+ +", line).end() for line in lines}  # type: ignore[union-attr]
    assert len(starts) == 1
    # the name is shown as written, as plain text
    assert "Bob <script>alert(1)</script>[31m" in bob


async def test_both_email_parts_show_the_history_with_a_label(runs):
    html, plain = _email(runs[-1])
    chars, ends = _expected(runs, "bob")
    movers = plain.split("Biggest movers", 1)[1]
    assert "(oldest first; · not scored)" in " ".join(movers.split())
    bob = next(line for line in movers.splitlines() if "Bob" in line)
    assert bob.startswith(f"  - {chars} {ends}  Bob <script>alert(1)</script>[31m: 37.5 -> 87.5 (+50.0)")
    for subject in ("ann", "cy"):  # the falling ones, each with its own figures
        name = next(s.name for s in runs[-1].outcome.subjects if s.id == subject)
        line = next(line for line in movers.splitlines() if name in line)
        assert line.startswith("  - " + " ".join(_expected(runs, subject)))

    class Sparks(HTMLParser):
        def __init__(self) -> None:
            super().__init__(convert_charrefs=True)
            self.spans: list[tuple[dict[str, str | None], str]] = []
            self.rows: list[str] = []
            self._span: dict[str, str | None] | None = None

        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            found = dict(attrs)
            if tag == "span" and found.get("class") == "spark":
                self._span = found
            if tag == "tr":
                self.rows.append("")

        def handle_endtag(self, tag: str) -> None:
            if tag == "span":
                self._span = None

        def handle_data(self, data: str) -> None:
            if self._span is not None:
                self.spans.append((self._span, data))
            if self.rows:
                self.rows[-1] += data

    page = Sparks()
    page.feed(html)
    assert page.spans, "no history in the HTML part"
    label = "consensus over the last 4 runs, oldest first: 13, not scored, 38, 88"
    attrs, shown = next((a, s) for a, s in page.spans if a.get("aria-label") == label)
    assert shown == chars and attrs.get("role") == "img" and attrs.get("title") == label
    row = next(r for r in page.rows if r.startswith("Bob"))
    assert f"{chars} {ends}" in row  # under the name
    lowered = html.lower()
    assert "<svg" not in lowered and "<script>" not in lowered and "<img" not in lowered.split("cid:")[0][-200:]
    assert "Bob &lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "\x1b" not in html and "\x1b" not in plain


async def test_a_subject_with_fewer_than_two_known_runs_shows_nothing(runs):
    outcome = runs[-1].outcome
    # the same real run, but every subject known in one run only (not scored before)
    once = {s.id: (math.nan, 50.0) for s in outcome.subjects}
    view = build_view(replace(outcome, history=ConsensusHistory.of_subjects(once, subject_ids(outcome.subjects))))
    assert view.changes is not None and view.changes.movers
    assert all(m.trend is None for m in view.changes.movers)
    text = TextRenderer().render(view)
    parts = build_email(view)
    for document in (text, parts.text, parts.html):
        assert not re.search(f"[{SPARK_BLOCKS}]", document)
        assert "→50" not in document
    assert 'class="spark"' not in parts.html and "Past runs" not in parts.html and "past runs" not in text
    assert "past runs" not in parts.text
    assert any(line.startswith("- Bob") for line in text.splitlines())  # the plain bullet, as before


def _big_with_movers(n: int, k: int, name_length: int) -> object:
    rng = np.random.default_rng(5)
    specs = tuple(IndexSpec(name=f"index{j}", scale=Scale(lo=0, hi=1000)) for j in range(k))
    subjects = tuple(Subject(id=f"s{i}", name=(f"<b>Person {i}</b> " + "Ω" * name_length)[:name_length])
                     for i in range(n))
    ids = tuple(s.id for s in subjects)
    before = rng.uniform(0, 1000, (n, k)).round(2)
    now = before.copy()
    now[: n // 2] = rng.uniform(0, 1000, (n // 2, k)).round(2)  # half the roster reshuffled
    comparison = compare_table(ScoreTable(ids, specs, now), previous=ScoreTable(ids, specs, before),
                               previous_run="run-before")
    outcome = make_outcome(now, subjects, specs, ())
    history = {sid: tuple(float(v) for v in rng.uniform(0, 100, 8)) for sid in ids}
    return replace(outcome, comparison=comparison, history=ConsensusHistory.of_subjects(history, ids))


@pytest.mark.parametrize(("n", "k", "name_length"), [(2_000, 5, 300), (300, 40, 60)])
def test_the_html_part_stays_within_budget_with_histories(n, k, name_length):
    view = build_view(_big_with_movers(n, k, name_length))  # type: ignore[arg-type]
    assert view.changes is not None and view.changes.movers and all(m.trend for m in view.changes.movers)
    parts = build_email(view)
    assert len(parts.html.encode("utf-8")) <= MAX_HTML_BYTES
    assert "<b>Person" not in parts.html and "&lt;b&gt;Person" in parts.html
