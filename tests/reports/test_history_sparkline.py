"""Each subject's consensus over the last runs: in the view, on its row, and drawn in its detail."""

from __future__ import annotations

import math
from dataclasses import replace

import pytest

from aggregator.analytics.outcome import ConsensusHistory
from aggregator.models import subject_ids
from reports._chromium import chromium_path, open_page
from reports.model import build_view
from reports.render import render

from .conftest import make_outcome

HISTORY = {"ada": (61.4, math.nan, 72.5), "bob": (math.nan, 10.0, 20.49)}


@pytest.fixture
def with_history():
    outcome = make_outcome()
    return replace(outcome, history=ConsensusHistory.of_subjects(HISTORY, subject_ids(outcome.subjects)))


def test_rows_carry_the_rounded_history_and_others_none(with_history):
    rows = {r.subject_id: r.history for r in build_view(with_history).standing}
    assert rows["ada"] == (61, None, 73)  # half up, as every figure in the report
    assert rows["bob"] == (None, 10, 20)
    assert rows["cy"] == ()


def test_the_page_holds_one_short_attribute_per_subject_with_history(with_history):
    html = render(with_history, "html")
    assert isinstance(html, str)
    assert html.count(' data-h="') == 2
    assert ' data-h="61,,73"' in html and ' data-h=",10,20"' in html
    plain = render(make_outcome(), "html")
    assert isinstance(plain, str) and " data-h=" not in plain
    assert 'id="detail-history"' not in plain and "<svg" in html and plain.count("<svg") == html.count("<svg") - 1
    assert build_view(with_history).history_runs == 3 and build_view(make_outcome()).history_runs == 0


@pytest.mark.skipif(chromium_path() is None, reason="Chromium is not installed (/usr/bin/chromium)")
async def test_the_detail_draws_the_sparkline_with_its_text(with_history, tmp_path):
    path = tmp_path / "history.html"
    html = render(with_history, "html")
    assert isinstance(html, str)
    path.write_text(html, encoding="utf-8")
    async with open_page(path.as_uri()) as page:
        async def open_detail(subject: str) -> None:
            await page.evaluate(
                "[...document.querySelectorAll('#standing-table tbody th button')]"
                f".find(b => b.textContent.startsWith({subject!r})).click()")

        await open_detail("Ada Lovelace")
        assert await page.evaluate("document.getElementById('detail-history').hidden") is False
        text = await page.evaluate("document.getElementById('detail-history').textContent")
        assert "Consensus over the last 3 runs, oldest first: 61, not scored, 73" in text
        points = await page.evaluate("document.querySelector('#detail-history polyline').getAttribute('points')")
        assert len(points.split()) == 2  # the run that did not score her is left out of the line
        await page.press("Escape")
        await open_detail("Cy Young")
        assert await page.evaluate("document.getElementById('detail-history').hidden") is True
        assert page.report.problems == []
