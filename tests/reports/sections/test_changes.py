"""Changes since the last run: a rescaled index is one event, and nobody moves with it."""

from __future__ import annotations

import numpy as np
import pytest

from reports.model import build_view


def test_a_rescaled_index_is_one_event_and_nobody_moves(build_outcome):
    import inspect
    from dataclasses import replace

    from aggregator.analytics.compare import ScoreTable, compare_table

    if "previous" not in inspect.signature(compare_table).parameters:
        pytest.skip("this build does not compare with a previous run")
    outcome = build_outcome()
    table = outcome.comparison.table
    before = ScoreTable(table.subject_ids, table.specs, np.where(np.arange(4) == 0, table.raw / 0.8, table.raw))
    comparison = compare_table(table, previous=before, previous_run="run-2024-04-24", failures=outcome.failures)
    view = build_view(replace(outcome, comparison=comparison))
    assert view.changes is not None
    assert view.changes.previous_run == "run-2024-04-24"
    assert view.changes.movers == ()
    klout = view.changes.indices[0]
    # every raw score is 0.8 of what it was: each subject lost 20 % of their score; the
    # fixture's Klout scores 75 at the median, so the median fell from 75 to 60 (15 points)
    assert klout.event and klout.sentence.startswith("Klout rescaled: its scores fell by a median of 15.00 points")
    assert "(median score 75.00 → 60.00)" in klout.sentence
    assert "the median subject's score fell by 20.0%" in klout.sentence
    assert (klout.median_shift, klout.median_relative) == ("−15.00", "−20.0%")
    assert any(e.text.startswith("Klout rescaled") for e in view.headline.events)
    assert [s.id for s in view.sections].index("changes") == [s.id for s in view.sections].index("health") - 1
