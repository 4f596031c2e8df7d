"""The ``json`` renderer: the view-model itself, for other programs.

Keys come in the view-model's declaration order and lists in the report's order, so the same
run always gives the same bytes. The document is plain data: consumers that show its text
(subject names, vendor messages) must escape it themselves. Figures are JSON numbers (raw scores
and index changes also unrounded, beside the rounded ones the pages show), records are objects
with named fields; ``docs/report.schema.json`` is its JSON Schema (:func:`json_schema`; regenerate
it with ``python -m reports.json > docs/report.schema.json``).
"""

from __future__ import annotations

import json
from typing import Any

from reports.model import ReportView


class JsonRenderer:
    """Renders a :class:`~reports.model.ReportView` as indented JSON."""

    name = "json"
    media_type = "application/json"

    def render(self, view: ReportView) -> str:
        return view.model_dump_json(indent=2) + "\n"


def json_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of what :class:`JsonRenderer` writes."""
    schema = ReportView.model_json_schema(mode="serialization")
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", "title": "Influence report", **schema}


if __name__ == "__main__":  # pragma: no cover - regenerates docs/report.schema.json
    print(json.dumps(json_schema(), indent=2, ensure_ascii=False))
