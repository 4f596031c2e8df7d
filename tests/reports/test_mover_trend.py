"""Movers carry their consensus history as an inline SVG line, readable without any script."""

from __future__ import annotations

from html.parser import HTMLParser

import aggregator
from reports.sections.changes import sparkline


class _Sparks(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.labels: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "svg" and found.get("class") == "spark" and found.get("role") == "img":
            self.labels.append(found.get("aria-label") or "")


def test_sparkline_points_and_words():
    line = sparkline([0, 100, None, 50])
    assert line is not None
    assert line.points == "0.0,20.0 26.7,0.0 80.0,10.0"
    assert line.text.endswith("0, 100, not scored, 50")
    assert sparkline([40]) is None
    assert sparkline([None, 40, None]) is None


async def test_a_mover_shows_its_history_in_the_page(project):
    await aggregator.Aggregator(project).run()
    # Bob climbs on two of the three indices: a mover, whose history has two runs
    kred = project.parent / "exports/kred.csv"
    kred.write_text(kred.read_text().replace("bobb,910", "bobb,100").replace("ann_a,420", "ann_a,990"))
    klout = project.parent / "exports/klout.csv"
    klout.write_text(klout.read_text().replace("ann_a,81.5", "ann_a,20"))
    result = await aggregator.Aggregator(project).run()
    assert result.outcome.comparison.shifts is not None
    assert len(result.outcome.comparison.shifts.movers) > 0
    html = result.render("html")
    assert isinstance(html, str)
    parser = _Sparks()
    parser.feed(html)
    assert parser.labels
    assert all(label.startswith("consensus over the last 2 runs, oldest first: ") for label in parser.labels)
