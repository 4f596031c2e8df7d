"""A run cut short part-way, for tests of resuming it."""

from __future__ import annotations

import asyncio

import pytest

from aggregator.app.config import Config
from aggregator.app.pipeline import run
from aggregator.collection.store import Store
from aggregator.models import Run
from aggregator.testing import FakeAdapter

SUBJECTS = ("ann", "bob", "cy", "dee")
#: the scores a resumed run's adapter should give, one per subject
SCORES = {s: 10.0 + i for i, s in enumerate(SUBJECTS)}


async def interrupted_run(config: Config, store: Store) -> Run:
    """Start a run whose only index answers slowly and cancel it after a few answers; the unfinished run."""
    slow = FakeAdapter("klout", SCORES, delay=0.05)
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(run(config, store, adapters_=[slow]), timeout=0.12)
    (unfinished,) = store.runs()
    assert not unfinished.finished
    return unfinished
