"""The ``html`` renderer: one standalone page for the web and for files.

The page makes no external requests (no CDN, fonts or images), reads fully without
JavaScript, and keeps its per-row markup lean so 10,000 subjects stay quick to open. A few lines
of inline script add sortable headers and a name filter on top.

Autoescaping is always on and the environment is strict about undefined names; outside text
(subject names, vendor messages) is never marked safe.
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING

from reports.model import ReportView

if TYPE_CHECKING:
    from jinja2 import Environment

TEMPLATE = "report.html.j2"


def _number(value: int) -> str:
    """Thousands separators: ``10000`` -> ``10,000``."""
    return f"{value:,}"


def _points(values: tuple[int | None, ...]) -> str:
    """A series as ``61,63,,70`` (blank where missing): compact for one attribute per row."""
    return ",".join("" if v is None else str(v) for v in values)


@cache
def environment() -> Environment:
    """The reports' jinja2 environment, built on first use and shared afterwards."""
    from jinja2 import Environment, PackageLoader, StrictUndefined

    env = Environment(
        loader=PackageLoader("reports", "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=False,
    )
    env.filters["num"] = _number
    env.filters["points"] = _points
    return env


class HtmlRenderer:
    """Renders a :class:`~reports.model.ReportView` as a standalone HTML5 page."""

    name = "html"
    media_type = "text/html; charset=utf-8"

    def render(self, view: ReportView) -> str:
        from reports.charts import dot_chart

        return environment().get_template(TEMPLATE).render(view=view, chart=dot_chart(view))
