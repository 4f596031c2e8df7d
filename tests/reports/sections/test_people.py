"""Agreement with people: a hand-checkable set of judged pairs over the small run of ``../conftest.py``."""

from __future__ import annotations

import json
from dataclasses import replace

from aggregator.analytics.people import people_agreement
from reports.model import build_view
from reports.render import render

# ada over bob, 30 times: every index and the consensus agree (peerindex is lower-is-better: 5 < 50);
# dee over ada, 10 times: only kred agrees (900 > 800). So kred: 40 of 40; the rest: 30 of 40.
JUDGMENTS = [("ada", "bob")] * 30 + [("dee", "ada")] * 10 + [("ada", "nobody")]


def _with_people(outcome, in_sample=()):
    return replace(outcome, people=replace(people_agreement(outcome.comparison, JUDGMENTS, in_sample=in_sample),
                                           source="judgments.csv", skipped=2, judges=3))


def test_rows_best_first_with_shares_intervals_and_who_differs(outcome):
    view = build_view(_with_people(outcome))
    assert view.people is not None and any(s.id == "people" for s in view.sections)
    rows = {r.index: r for r in view.people.rows}
    assert view.people.rows[0].index == "Kred"
    assert (rows["Kred"].share, rows["Kred"].n, rows["Kred"].low, rows["Kred"].high) == (100, 40, 100, 100)
    for label in ("Klout", "Peerindex", "Empire Avenue", "Consensus"):
        r = rows[label]
        assert (r.share, r.n) == (75, 40)
        assert r.low is not None and r.high is not None and r.low < 75 < r.high < 100
        assert r.differs_from == ("Kred",)
    assert set(rows["Kred"].differs_from) == {"Klout", "Peerindex", "Empire Avenue", "Consensus"}
    # the same counts give the same interval, whichever index has them
    assert len({(rows[label].low, rows[label].high) for label in ("Klout", "Peerindex", "Consensus")}) == 1
    assert view.people.sentences[0] == "Kred orders judged pairs as people did most often: 100% of 40 pairs."
    assert "Its interval overlaps none of the others" in view.people.sentences[1]
    assert (view.people.judged, view.people.not_in_run, view.people.skipped) == (41, 1, 2)
    assert view.people.note.startswith("41 judged pairs from judgments.csv by 3 judges; 1 names a subject")
    assert "percentile bootstrap over the judged pairs (2,000 resamples, fixed seed 0)" in view.people.method


def test_an_in_sample_index_says_so_everywhere(outcome):
    view = build_view(_with_people(outcome, in_sample=["kred"]))
    kred = next(r for r in view.people.rows if r.index == "Kred")
    assert kred.in_sample and "in-sample" in kred.line
    assert any("Kred was fitted on these same judgments" in s for s in view.people.sentences)
    assert "The consensus includes it, so its figure is partly in-sample too." in view.people.sentences
    html = render(_with_people(outcome, in_sample=["kred"]), "html")
    assert "(in-sample: fitted on these judgments)" in str(html)


def test_every_renderer_shows_the_section_only_when_judgments_were_given(outcome):
    judged = _with_people(outcome)
    html, text = str(render(judged, "html")), str(render(judged, "text"))
    assert 'id="people-table"' in html and "Agreement with people" in html
    assert "Kred: 100% (95% interval 100–100%) of 40 judged pairs; differs from" in text
    document = json.loads(str(render(judged, "json")))
    assert document["people"]["rows"][0]["index"] == "Kred"
    email = render(judged, "email")
    assert isinstance(email, bytes) and b"Agreement with people" in email
    for kind in ("html", "text"):
        assert "Agreement with people" not in str(render(outcome, kind))
    assert json.loads(str(render(outcome, "json")))["people"] is None


def test_index_labels_are_escaped_in_the_section(build_outcome):
    from tests.reports.conftest import SPECS

    specs = (SPECS[0].model_copy(update={"label": "<script>alert(1)</script>"}), *SPECS[1:])
    html = str(render(_with_people(build_outcome(specs=specs)), "html"))
    section = html[html.index('id="people"'):html.index('id="people-table"') + 2000]
    assert "<script>alert(1)</script>" not in section and "&lt;script&gt;alert(1)&lt;/script&gt;" in section
