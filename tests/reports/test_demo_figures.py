"""The demo's figures as the report states them, checked against the stored readings themselves."""

from __future__ import annotations

import numpy as np

from aggregator.app.history import outcome_from_store
from aggregator.collection.store import Store
from reports.model import build_view


def test_the_demo_rescale_is_told_as_the_median_change_and_the_median_subjects_own_change(demo_page):
    """Klout moves to algorithm 2 between the demo's runs: its scores shrink while the order holds.
    The sentence gives the median change in points, the median score before and now, and the
    median of each subject's own change in percent, each computed here from the store."""
    with Store(demo_page.parent / "history.sqlite") as store:
        before_run, now_run = store.runs()[-2:]
        klout = {run.id: {r.subject_id: r.value for _, r in store.readings(run.id) if r.index == "klout"}
                 for run in (before_run, now_run)}
        outcome = outcome_from_store(store, now_run.id)
    both = sorted(set(klout[before_run.id]) & set(klout[now_run.id]))
    before = np.array([klout[before_run.id][s] for s in both])
    now = np.array([klout[now_run.id][s] for s in both])
    change, relative = np.median(now - before), np.median((now - before) / np.abs(before) * 100)
    assert relative < -30  # the median subject lost a third or more of their score ...
    assert abs(change) / 99 * 100 < abs(relative)  # ... far more than the change's share of the scale

    row = next(r for r in build_view(outcome).changes.indices if r.index == "Klout")
    assert row.event
    assert row.sentence.startswith(f"Klout rescaled: its scores fell by a median of {abs(change):.2f} points")
    assert f"(median score {np.median(before):.2f} → {np.median(now):.2f})" in row.sentence
    assert f"the median subject's score fell by {abs(relative):.1f}%" in row.sentence
    assert row.figures.median_relative_change_pct is not None
    assert abs(row.figures.median_relative_change_pct - relative) < 1e-9
