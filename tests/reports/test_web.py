"""The HTML page: structure, self-containment and escaping, checked with the stdlib parser."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import numpy as np
import pytest
from jinja2 import StrictUndefined

from reports.model import build_view
from reports.web import HtmlRenderer, environment

XSS_NAME = "<script>alert(1)</script>"
XSS_MESSAGE = "<img src=x onerror=alert(1)>"


class Page(HTMLParser):
    """Records what the checks need: every start tag, and the standing table's rows."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.stack: list[str] = []
        self.table_id: str | None = None
        self.section: str | None = None
        self.rows: dict[str, list[dict[str, object]]] = {}
        self.row: dict[str, object] | None = None
        self.cell: list[str] | None = None
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        self.tags.append((tag, attributes))
        if tag == "table":
            self.table_id = attributes["id"]
            self.rows[self.table_id] = []
        elif tag in {"thead", "tbody"}:
            self.section = tag
        elif tag == "tr" and self.section == "tbody":
            self.row = {"class": attributes.get("class"), "cells": []}
        elif tag in {"td", "th"} and self.row is not None:
            self.cell = []
            self.row["cells"].append((tag, attributes, self.cell))

    def handle_endtag(self, tag):
        if tag == "tr" and self.row is not None and self.table_id:
            self.rows[self.table_id].append(self.row)
            self.row = None
        elif tag in {"thead", "tbody"}:
            self.section = None
        elif tag == "table":
            self.table_id = None

    def handle_data(self, data):
        self.text.append(data)
        if self.cell is not None:
            self.cell.append(data)


@pytest.fixture
def html(outcome) -> str:
    return HtmlRenderer().render(build_view(outcome))


@pytest.fixture
def page(html) -> Page:
    parser = Page()
    parser.feed(html)
    parser.close()
    return parser


def cell_text(cell) -> str:
    return "".join(cell[2]).strip()


def test_is_an_html5_document_in_english(html, page):
    assert html.startswith("<!doctype html>\n")
    assert ("html", {"lang": "en"}) in page.tags
    assert ("meta", {"charset": "utf-8"}) in page.tags


def test_makes_no_external_requests(html, page):
    for tag, attributes in page.tags:
        assert "src" not in attributes, tag
        assert tag not in {"link", "img", "iframe", "object", "embed", "base"}
        href = attributes.get("href")
        assert href is None or href.startswith("#"), href
    assert not re.search(r"url\(|@import|https?://", html)


def test_has_the_sections_and_they_are_linked(page):
    ids = {attributes.get("id") for _, attributes in page.tags}
    assert {"headline", "standing", "disagreements", "health", "failures", "method"} <= ids
    anchors = {attributes["href"][1:] for tag, attributes in page.tags if tag == "a"}
    assert anchors <= ids


def test_every_header_cell_has_a_scope(page):
    header_cells = [attributes for tag, attributes in page.tags if tag == "th"]
    assert header_cells
    assert all(attributes.get("scope") in {"col", "row", "rowgroup"} for attributes in header_cells)


def test_standing_table_has_one_row_per_subject_named_in_a_row_header(page, outcome):
    rows = page.rows["standing-table"]
    assert len(rows) == len(outcome.subjects)
    names = []
    for row in rows:
        cells = row["cells"]
        assert len(cells) == 5 + 4  # rank, subject, consensus, spread, indices + one per index
        tag, attributes, _ = cells[1]
        assert (tag, attributes.get("scope")) == ("th", "row")
        names.append(cell_text(cells[1]))
    assert names == [
        "Ada Lovelace", "Cy Young demo", XSS_NAME, "Bob Stone", "Dee Falcon", "Eve Moss",
    ]
    bob = rows[3]["cells"]
    assert [cell_text(c) for c in bob[:5]] == ["4", "Bob Stone", "33.8", "52.5", "4"]
    assert cell_text(bob[5]) == "30 40"  # standing, then the raw value


def test_bars_are_inline_widths_from_the_view(page):
    ada = page.rows["standing-table"][0]["cells"]
    bars = [a["style"] for tag, a in page.tags if tag == "i" and "style" in a]
    assert bars[:4] == ["--p:90%", "--p:70%", "--p:88%", "--p:88%"]
    assert cell_text(ada[5]) == "90 90"


def test_the_dissenting_cell_is_marked_with_text_not_colour_only(page):
    bob, dee = page.rows["standing-table"][3], page.rows["standing-table"][4]
    marked = [
        (row["cells"][1][2][0], j)
        for row in (bob, dee)
        for j, (_, attributes, _) in enumerate(row["cells"])
        if attributes.get("class") == "x"
    ]
    assert marked == [("Bob Stone", 8), ("Dee Falcon", 6)]
    assert "⚑" in cell_text(dee["cells"][6])
    assert "odd one out" in cell_text(dee["cells"][6])
    assert dee["class"] == "f"


def test_outside_text_is_escaped(html):
    assert XSS_NAME not in html
    assert XSS_MESSAGE not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html
    # the only script is our own, and nothing carries an event handler
    assert html.count("<script") == 1
    assert not re.search(r"<[^>]+\son\w+=", html)


def test_page_text_still_shows_the_names_and_messages(page):
    text = "".join(page.text)
    assert XSS_NAME in text
    assert XSS_MESSAGE in text


def test_reads_without_javascript(html, page):
    """Sort buttons and the filter box are added by the script; without it nothing is dead."""
    # the only button in the markup closes the detail dialog, which is shut (invisible) without JS
    assert sum(tag == "button" for tag, _ in page.tags) == 1
    assert ("dialog", {"id": "detail", "aria-labelledby": "detail-h"}) in page.tags
    tools = next(a for tag, a in page.tags if a.get("id") == "tools")
    assert "hidden" in tools
    for word in ("Headline", "Relative standing", "Disagreements", "Index health", "Method"):
        assert word in html
    assert "Kred could not be reached for 1 of 6 subjects (timeout)." in html


def test_the_standing_table_starts_sorted_by_consensus(page):
    heads = [(a.get("aria-sort"), a.get("scope")) for tag, a in page.tags if tag == "th"]
    assert ("descending", "col") in heads


def test_failures_are_collapsed(page):
    assert ("details", {"id": "failures"}) in page.tags
    assert ("details", {"id": "failures", "open": None}) not in page.tags
    assert len(page.rows["failures-table"]) == 6


def test_opted_out_shows_as_a_number(html):
    assert "(2 opted out, not shown)" in html


def test_environment_is_strict_escaping_and_shared():
    env = environment()
    assert env is environment()
    assert env.autoescape is True
    assert env.undefined is StrictUndefined


def test_renderer_declares_itself():
    renderer = HtmlRenderer()
    assert (renderer.name, renderer.media_type) == ("html", "text/html; charset=utf-8")


def test_ten_thousand_subjects_by_five_indices_stay_lean(build_outcome):
    """Past the shortlist size the page lists the ends, the disputed and the movers, whatever the roster;
    per-row markup is the page's weight: under 500 bytes a row (measured: ~430)."""
    from aggregator.models import IndexSpec, Scale, Subject
    from reports.sections.changes import MAX_MOVERS
    from reports.sections.disagreements import MAX_DISAGREEMENTS
    from reports.sections.standing import SHORTLIST_ENDS

    n = 10_000
    rng = np.random.default_rng(7)
    specs = (
        IndexSpec(name="klout", scale=Scale(lo=1, hi=100)),
        IndexSpec(name="kred", scale=Scale(lo=1, hi=1000)),
        IndexSpec(name="peerindex", scale=Scale(lo=0, hi=100), higher_is_better=False),
        IndexSpec(name="empire_avenue"),
        IndexSpec(name="inhouse", scale=Scale(lo=0, hi=100)),
    )
    raw = np.column_stack([
        rng.uniform(1, 100, n).round(1), rng.uniform(1, 1000, n).round(0),
        rng.uniform(0, 100, n).round(2), rng.lognormal(3, 1, n), rng.uniform(0, 100, n),
    ])
    raw[rng.random(raw.shape) < 0.05] = np.nan
    subjects = tuple(Subject(id=f"s{i:05d}", name=f"Amber Falcon {i}") for i in range(n))
    view = build_view(build_outcome(raw, subjects, specs, ()), standing_csv="week 48.standing.csv")
    html = HtmlRenderer().render(view)
    standing = html[html.index('<table id="standing-table">') : html.index("</table>", html.index("standing-table"))]
    shown = len(view.standing)
    assert 2 * SHORTLIST_ENDS <= shown <= 2 * SHORTLIST_ENDS + MAX_DISAGREEMENTS + MAX_MOVERS
    assert standing.count("<tr") == shown + 1  # one row per listed subject, one header row
    assert all(d.name + "</th>" in standing for d in view.disagreements)
    assert view.standing[-1].rank is None or view.standing[-1].rank > n - SHORTLIST_ENDS  # the bottom is there
    assert f"This copy lists {shown:,} of the {n:,} subjects" in html
    assert 'href="week%2048.standing.csv" download>' in html  # relative, beside the page
    assert len(html.encode()) < 500 * shown + 100_000


def test_every_section_says_what_it_means_and_is_numbered(html, page, outcome):
    view_sections = [s.id for s in build_view(outcome).sections]
    assert {"headline", "standing", "disagreements", "health", "method"} <= set(view_sections)
    ids = [a["id"] for tag, a in page.tags if tag == "section"]
    assert ids == view_sections
    assert html.count('<p class="meaning"><strong>What this means:</strong>') == len(view_sections)
    assert '<h2 id="standing-h">2. Relative standing</h2>' in html


def test_headline_names_leaders_disputes_and_events(html):
    assert "Leading by consensus" in html
    assert "Dee Falcon (spread 80.0 points): Kred puts Dee Falcon at the 90th percentile" in html
    assert "Kred could not be reached for 1 of 6 subjects (timeout)." in html


def test_the_chart_is_inline_svg_with_a_text_equivalent(page, html):
    svgs = [a for tag, a in page.tags if tag == "svg"]
    # the dot rows twice (wide, and for a phone: the stylesheet shows one), then the spread histogram
    assert len(svgs) == 3 and all(svg["role"] == "img" for svg in svgs)
    assert svgs[0]["aria-labelledby"] == "dots-title dots-desc"
    assert svgs[1]["aria-labelledby"] == "dots-n-title dots-n-desc"
    assert svgs[2]["aria-labelledby"] == "spread-title spread-desc"
    assert '<figure class="chart wide">' in html and '<figure class="chart narrow">' in html
    text = "".join(page.text)
    assert "Dee Falcon: Klout 10, Kred 90, Peerindex 13, Empire Avenue 38 (odd one out: Kred)" in text
    assert "The table below has the same numbers." in text
    assert "Spread of every subject's standings (5 subjects)" in text


def _luminance(hex_colour: str) -> float:
    if len(hex_colour) == 4:
        hex_colour = "#" + "".join(c * 2 for c in hex_colour[1:])
    channels = [int(hex_colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def _contrast(a: str, b: str) -> float:
    hi, lo = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def test_text_colours_meet_wcag_aa_in_light_and_dark(html):
    light, dark = re.findall(r":root\{([^}]*)\}", html)[:2]
    for palette in (light, dark):
        colours = dict(re.findall(r"--([\w-]+):(#[0-9a-fA-F]{6}|#[0-9a-fA-F]{3})\b", palette))
        for fg, bgs in {
            "fg": ("bg", "zebra", "head", "warn-bg", "bad-bg"), "muted": ("bg", "zebra", "head"),
            "accent": ("bg", "zebra"), "warn": ("warn-bg", "bg"), "bad": ("bg", "zebra"), "ok": ("bg", "zebra"),
        }.items():
            for bg in bgs:
                assert _contrast(colours[fg], colours[bg]) >= 4.5, (fg, bg, palette[:20])


def test_agreement_matrix_colours_keep_their_text_readable(html):
    pairs = re.findall(r"\.m-(a\d|neg)\{background:(#[0-9a-fA-F]{6});color:(#[0-9a-fA-F]{3,6})\}", html)
    assert {name for name, _, _ in pairs} == {"a0", "a1", "a2", "a3", "a4", "neg"}
    for name, background, text in pairs:
        assert _contrast(text, background) >= 4.5, name
