"""The plain-text report: readable, aligned, and safe for a terminal."""

from __future__ import annotations

import pytest

from aggregator.models import Subject
from reports.model import build_view
from reports.text import TOP_ROWS, TextRenderer


@pytest.fixture
def text(outcome) -> str:
    return TextRenderer().render(build_view(outcome))


def test_names_every_top_subject(text, outcome):
    for subject in outcome.subjects:
        assert subject.name in text


def test_has_the_sections(text):
    for heading in ("Summary", "Standing (top 6 of 6)", "Disagreements (3 above 25 points)",
                    "Index health", "Not scored, and why (2 not found, 4 faults; 6 of 6 listed)"):
        assert heading in text


def test_carries_the_summary_and_the_disagreement_sentences(text):
    assert "! Kred could not be reached for 1 of 6 subjects (timeout)." in text
    assert "Kred puts Dee Falcon at the 90th percentile; the others put them near the 13th." in text


def test_standing_columns_are_fixed_width(text):
    lines = text.splitlines()
    start = next(n for n, line in enumerate(lines) if line.startswith("Rank  Subject"))
    header, rule, *rows = lines[start : start + 2 + 6]
    assert set(rule) <= {"-", " "}
    # right-aligned consensus: every row ends that column where the header does
    end = header.index("Consensus") + len("Consensus")
    assert [row[end - 4 : end] for row in rows] == ["87.5", "50.0", "41.3", "33.8", "25.0", "   -"]
    bob = next(row for row in rows if "Bob Stone" in row)
    assert bob.endswith("63 (3.25) *")  # the odd one out, marked in text
    assert "[demo]" in next(row for row in rows if "Cy Young" in row)


def test_only_the_top_rows_are_listed(build_outcome):
    import numpy as np

    from aggregator.models import IndexSpec

    n = TOP_ROWS + 5
    raw = np.column_stack([np.arange(n, dtype=float), np.arange(n, dtype=float)])
    subjects = tuple(Subject(id=f"s{i}", name=f"Person {i:02d}") for i in range(n))
    specs = (IndexSpec(name="klout"), IndexSpec(name="kred"))
    text = TextRenderer().render(build_view(build_outcome(raw, subjects, specs, ())))
    assert f"Standing (top {TOP_ROWS} of {n})" in text
    assert f"Person {n - 1:02d}" in text  # the leader
    assert "Person 00" not in text  # the last


def test_control_characters_in_names_cannot_reach_the_terminal(build_outcome, outcome):
    evil = "Mallory\x1b[2J\r\u202eevil"
    subjects = (*outcome.subjects[:-1], Subject(id="xss", name=evil))
    text = TextRenderer().render(build_view(build_outcome(subjects=subjects)))
    assert "\x1b" not in text
    assert "\r" not in text
    assert "\u202e" not in text
    assert "Mallory\ufffd[2J \ufffdevil" in text


def test_opted_out_shows_as_a_number(text):
    assert "6 subjects (2 opted out, not shown)" in text


def test_renderer_declares_itself():
    renderer = TextRenderer()
    assert (renderer.name, renderer.media_type) == ("text", "text/plain; charset=utf-8")
