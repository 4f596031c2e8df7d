"""The ``json`` renderer: the view-model itself, for other programs.

Keys come in the view-model's declaration order and lists in the report's order, so the same
run always gives the same bytes. The document is plain data: consumers that show its text
(subject names, vendor messages) must escape it themselves.
"""

from __future__ import annotations

from reports.model import ReportView


class JsonRenderer:
    """Renders a :class:`~reports.model.ReportView` as indented JSON."""

    name = "json"
    media_type = "application/json"

    def render(self, view: ReportView) -> str:
        return view.model_dump_json(indent=2) + "\n"
