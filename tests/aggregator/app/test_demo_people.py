"""The demo checks every index against the people's judgments it ships: its figures, recomputed by hand."""

from __future__ import annotations

import asyncio
import csv
import json
import math

from adapters.sandbox.population import load_judgments
from aggregator.app import demo
from aggregator.collection.store import Store


def test_the_demo_report_shows_each_index_against_the_shipped_judgments(tmp_path):
    done = asyncio.run(demo.run_demo(tmp_path, subjects=400, seed=3))
    outcome = done.result.outcome
    people = outcome.people
    assert people is not None

    # the judgments the demo wrote are exactly the shipped ones between its people
    with (tmp_path / "roster.csv").open() as handle:
        roster = {row["id"] for row in csv.DictReader(handle)}
    with (tmp_path / "judgments.csv").open() as handle:
        written = [tuple(row) for row in csv.reader(handle)][1:]
    assert written == [row for row in load_judgments() if row[0] in roster and row[1] in roster]

    # a direct computation: each index's stored scores, each judged pair in plain Python
    in_run = {s.id for s in outcome.subjects}
    pairs = [(w, b if w == a else a) for a, b, w in written if a in in_run and b in in_run]
    specs = {spec.name: spec for spec in outcome.comparison.table.specs}
    scores: dict[str, dict[str, float]] = {name: {} for name in specs}
    with Store(tmp_path / "history.sqlite") as store:
        stored = [reading for _, reading in store.readings(outcome.run.id)]
    for reading in stored:
        scores[reading.index][reading.subject_id] = reading.value * (1 if specs[reading.index].higher_is_better else -1)
    expected = {}
    for name, score in scores.items():
        points = [1.0 if score[w] > score[lo] else 0.5 if score[w] == score[lo] else 0.0
                  for w, lo in pairs if w in score and lo in score]
        expected[name] = (len(points), sum(points) / len(points))
    figures = {row.index: (row.n, row.share) for row in people.rows if not row.is_consensus}
    assert figures.keys() == expected.keys() == {"klout", "peerindex", "kred", "empireavenue", "inhouse"}
    for name, (n, share) in expected.items():
        assert figures[name][0] == n and math.isclose(figures[name][1], share), name
    assert people.judged == len(written) and people.not_in_run == len(written) - len(pairs)
    assert min(n for n, _ in expected.values()) >= 30  # enough pairs for every index to get an interval

    # the report says it, the in-house figure is marked in-sample, and the JSON carries the same numbers
    view = json.loads(str(done.result.render("json")))["people"]
    shown = {row["index"]: row for row in view["rows"]}
    assert shown["In-house"]["in_sample"] and "in-sample" in shown["In-house"]["line"]
    assert shown["Klout"]["n"] == expected["klout"][0]
    assert shown["Klout"]["share"] == math.floor(expected["klout"][1] * 100 + 0.5)
    html = done.report_path.read_text()
    assert 'id="people-table"' in html and "(in-sample: fitted on these judgments)" in html
