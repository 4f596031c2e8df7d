"""The JSON report: the view-model as data, stable from run to run."""

from __future__ import annotations

import json

from reports.json import JsonRenderer
from reports.model import ReportView, build_view


def test_parses_and_holds_every_subject(outcome):
    document = json.loads(JsonRenderer().render(build_view(outcome)))
    assert [row["subject_id"] for row in document["standing"]] == [
        "ada", "cy", "xss", "bob", "dee", "eve",
    ]
    assert {row["name"] for row in document["standing"]} == {s.name for s in outcome.subjects}
    assert document["standing"][3]["cells"][3] == {
        "standing": 63, "bar": 63, "raw": "3.25", "dissenter": True,
    }
    assert document["standing"][5]["consensus"] is None


def test_keys_come_in_a_stable_order(outcome):
    text = JsonRenderer().render(build_view(outcome))
    assert list(json.loads(text)) == [
        "meta", "sections", "headline", "summary", "indices", "standing", "disagreements", "flagged_total",
        "failures", "failures_total", "not_found_total", "faults_total", "failures_more", "method", "inversions",
        "agreement", "changes",
        "lone_topics", "history_runs",
    ]
    assert text == JsonRenderer().render(build_view(outcome))
    assert text.startswith('{\n  "meta": {\n    "title": ')


def test_round_trips_into_the_view(outcome):
    view = build_view(outcome)
    assert ReportView.model_validate_json(JsonRenderer().render(view)) == view


def test_opted_out_is_only_a_number(outcome):
    document = json.loads(JsonRenderer().render(build_view(outcome)))
    assert document["meta"]["opted_out"] == 2


def test_renderer_declares_itself():
    renderer = JsonRenderer()
    assert (renderer.name, renderer.media_type) == ("json", "application/json")
