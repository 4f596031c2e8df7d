"""Helpers for the section tests (the run itself and its ``view`` are in ``../conftest.py``)."""

from __future__ import annotations

import pytest

from reports.model import ReportView


def row(view: ReportView, subject_id: str):
    return next(r for r in view.standing if r.subject_id == subject_id)


# --- analytics sections: shown when the comparison computed them (skipped on builds without) ----

def needs(outcome, field: str) -> None:
    if getattr(outcome.comparison, field, None) is None:
        pytest.skip(f"this build's comparison has no {field}")
