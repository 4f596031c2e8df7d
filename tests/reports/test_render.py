"""Picking a renderer by name through the ``aggregator.renderers`` entry points.

Needs the project installed (``pip install -e .``), which is what registers our renderers.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from aggregator.errors import PluginNotFoundError
from aggregator.plugins import renderers
from reports.json import JsonRenderer
from reports.model import build_view
from reports.render import load_renderer, render
from reports.text import TextRenderer
from reports.web import HtmlRenderer


@pytest.mark.parametrize(
    ("kind", "cls"), [("html", HtmlRenderer), ("text", TextRenderer), ("json", JsonRenderer)]
)
def test_built_ins_are_found_through_the_entry_points(kind, cls):
    renderer = load_renderer(kind)
    assert type(renderer) is cls
    assert renderer.name == kind


def test_renders_an_outcome_or_a_ready_view(outcome):
    from_outcome = render(outcome, "json")
    assert from_outcome == render(build_view(outcome), "json")
    assert isinstance(from_outcome, str)
    assert json.loads(from_outcome)["meta"]["run_id"] == "run-2024-05-01"
    html = render(outcome, "html")
    assert isinstance(html, str)
    assert html.startswith("<!doctype html>")


def test_an_unknown_kind_names_the_installed_ones(outcome):
    with pytest.raises(PluginNotFoundError, match=r"unknown renderer 'pdf'; installed: .*html"):
        render(outcome, "pdf")


class Shout:
    name = "shout"
    media_type = "text/plain"

    def render(self, view) -> str:
        return view.meta.title.upper()


class NotARenderer:
    pass


@pytest.fixture
def registered() -> Iterator[None]:
    renderers.register("shout", Shout)
    renderers.register("broken", NotARenderer)
    yield
    renderers.unregister("shout")
    renderers.unregister("broken")


@pytest.mark.usefixtures("registered")
def test_a_plugin_renderer_is_used_like_ours(outcome):
    assert render(outcome, "shout") == "WEEKLY INFLUENCE REPORT"


@pytest.mark.usefixtures("registered")
def test_something_that_is_not_a_renderer_is_refused(outcome):
    with pytest.raises(PluginNotFoundError, match="lacks name, media_type or render"):
        render(outcome, "broken")
