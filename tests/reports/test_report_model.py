"""The whole view against the hand arithmetic in conftest.py: what the run was, which sections it has,
and that the same outcome gives the same frozen view. Each section's own rows and sentences are tested in
``sections/``, one file per section module."""

from __future__ import annotations

import dataclasses
import pkgutil
import subprocess
import sys
from importlib import import_module
from importlib.resources import files

import pytest

from reports.model import SECTIONS, build_view


def test_meta_describes_the_run(view):
    meta = view.meta
    assert meta.title == "Weekly influence report"
    assert meta.run_id == "run-2024-05-01"
    assert (meta.started_at, meta.finished_at) == ("2024-05-01T12:00:00Z", "2024-05-01T12:31:05Z")
    assert meta.started_text == "2024-05-01 12:00 UTC"
    assert meta.generated_by.startswith("influence-aggregator ")
    assert (meta.subjects, meta.indices, meta.opted_out) == (6, 4, 2)
    assert (meta.method, meta.threshold, meta.threshold_text) == ("percentile", 25.0, "25")


def test_naive_times_are_read_as_utc(build_outcome):
    outcome = build_outcome()
    naive = outcome.run.model_copy(update={"started_at": outcome.run.started_at.replace(tzinfo=None)})
    view = build_view(dataclasses.replace(outcome, run=naive))
    assert view.meta.started_at == "2024-05-01T12:00:00Z"


def test_the_same_outcome_gives_the_same_view_whatever_the_failure_order(build_outcome, outcome):
    reordered = build_outcome(failures=tuple(reversed(outcome.failures)))
    assert build_view(reordered) == build_view(outcome)


def test_opted_out_is_only_a_count(view):
    assert isinstance(view.meta.opted_out, int)
    assert view.meta.opted_out == 2


def test_misaligned_subjects_are_refused(build_outcome, outcome):
    with pytest.raises(ValueError, match="aligned"):
        build_view(dataclasses.replace(outcome, subjects=tuple(reversed(outcome.subjects))))


def test_the_view_is_frozen(view):
    with pytest.raises(ValueError, match="frozen"):
        view.meta.title = "changed"


def test_importing_the_model_does_not_import_jinja2():
    code = "import sys, reports.model, reports.web; assert 'jinja2' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


def present_sections(view) -> list[str]:
    """The sections a view should have: the five always there, and the analytics it computed."""
    optional = {"inversions": view.inversions, "agreement": view.agreement, "changes": view.changes}
    return [
        key for key in ("headline", "standing", "disagreements", "inversions", "agreement", "changes", "health",
                        "method")
        if optional.get(key, True) is not None
    ]


def test_sections_in_order_each_with_a_meaning(view):
    assert [s.id for s in view.sections] == present_sections(view)
    assert {"headline", "standing", "disagreements", "health", "method"} <= {s.id for s in view.sections}
    assert all(s.meaning.endswith(".") and len(s.meaning) > 40 for s in view.sections)


def test_each_section_has_a_module_and_a_template_of_its_name():
    package = import_module("reports.sections")
    modules = {m.name for m in pkgutil.iter_modules(package.__path__) if not m.name.startswith("_")}
    templates = {p.name for p in (files("reports") / "templates" / "sections").iterdir()}
    assert modules == set(SECTIONS)
    assert templates == {f"{name}.html.j2" for name in SECTIONS}


def test_erased_histories_are_a_count_said_beside_the_opt_outs(build_outcome):
    from dataclasses import replace

    from reports.text import TextRenderer
    from reports.web import HtmlRenderer

    outcome = build_outcome()
    if not hasattr(outcome, "forgotten"):
        pytest.skip("this build's outcome does not count erased histories")
    view = build_view(replace(outcome, forgotten=1))
    assert (view.meta.opted_out, view.meta.forgotten) == (2, 1)
    assert "(2 opted out, not shown; the stored history of 1 erased at their request)" in HtmlRenderer().render(view)
    assert "(2 opted out, not shown; history of 1 erased)" in TextRenderer().render(view)
