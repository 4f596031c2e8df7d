"""Render a run's report by output kind: ``render(outcome, "html")``.

The renderer is found by name through the ``aggregator.renderers`` entry points (ours are
registered there too, so a third-party renderer is just as first-class). An entry point names
a class; it is instantiated with no arguments.
"""

from __future__ import annotations

from aggregator.analytics.outcome import RunOutcome
from aggregator.errors import PluginNotFoundError, Problem
from aggregator.plugins import Renderer, renderers
from reports.model import ReportView, build_view


def load_renderer(kind: str) -> Renderer:
    """The renderer registered under ``kind``, ready to use."""
    renderer = renderers.load(kind, where="report kind")()
    if not isinstance(renderer, Renderer):
        raise PluginNotFoundError(
            [Problem("report kind", f"renderer {kind!r} lacks name, media_type or render()")]
        )
    return renderer


def render(outcome_or_view: RunOutcome | ReportView, kind: str) -> str | bytes:
    """A finished run's report (or an already-built view) rendered as ``kind``.

    Our renderers (``html``, ``text``, ``json``) return text; a plugin may return bytes,
    which are passed through as they are.
    """
    view = outcome_or_view if isinstance(outcome_or_view, ReportView) else build_view(outcome_or_view)
    return load_renderer(kind).render(view)
