from __future__ import annotations

import asyncio

from aggregator.collection.collect import Progress, collect
from aggregator.models import Failure, FailureKind, Reading, Subject, Subjects
from aggregator.testing import FakeAdapter

SUBJECTS = [Subject(id=f"s{i}", name=f"S{i}") for i in range(6)]


async def _collect(adapters, todo=None):
    got: list[Reading | Failure] = []
    events: list[Progress] = []
    tallies = await collect(adapters, SUBJECTS, got.append, todo=todo, progress=events.append)
    return got, events, tallies


def _by_pair(items):
    return {(i.index, i.subject_id): i for i in items}


async def test_one_failing_index_or_subject_never_fails_the_others():
    good = FakeAdapter("good", {s.id: float(i) for i, s in enumerate(SUBJECTS)})
    flaky = FakeAdapter("flaky", {"s0": 1.0, "s1": FailureKind.TIMEOUT, "s2": RuntimeError("https://x?key=SECRET")})
    got, _, tallies = await _collect([good, flaky])
    pairs = _by_pair(got)
    assert len(got) == 12  # exactly one answer per (index, subject)
    assert all(isinstance(pairs["good", s.id], Reading) for s in SUBJECTS)
    assert isinstance(pairs["flaky", "s0"], Reading)
    assert pairs["flaky", "s1"].kind is FailureKind.TIMEOUT
    crashed = [pairs["flaky", f"s{i}"] for i in range(2, 6)]
    assert all(f.kind is FailureKind.ADAPTER_ERROR for f in crashed)
    assert all("RuntimeError" in f.message and "SECRET" not in f.message for f in crashed)
    assert {t.index: (t.readings, t.failures) for t in tallies} == {"good": (6, 0), "flaky": (1, 5)}


async def test_subjects_an_adapter_skips_get_a_failure():
    lazy = FakeAdapter("lazy", {"s0": 3.0})
    got, _, _ = await _collect([lazy])
    assert len(got) == 6
    assert sum(isinstance(i, Failure) and i.kind is FailureKind.ADAPTER_ERROR for i in got) == 5


async def test_a_whole_index_failure_is_given_to_each_unanswered_subject():
    class Down(FakeAdapter):
        async def fetch(self, subjects):
            yield Failure(index=self.name, subject_id=None, kind=FailureKind.AUTH, message="down: key refused")

    got, _, _ = await _collect([Down("down")])
    per_subject = [i for i in got if i.subject_id is not None]
    assert len(per_subject) == 6
    assert {(f.kind, f.message) for f in per_subject} == {(FailureKind.AUTH, "down: key refused")}


async def test_adapters_run_concurrently_and_report_progress():
    slow = [FakeAdapter(f"i{k}", {s.id: 1.0 for s in SUBJECTS}, delay=0.05) for k in range(3)]
    loop = asyncio.get_running_loop()
    started = loop.time()
    _, events, _ = await _collect(slow)
    # each adapter needs 6 x 0.05 s; run one after another they would need 0.9 s
    assert loop.time() - started < 0.6
    last = {e.index: e for e in events}
    assert {(e.done, e.total) for e in last.values()} == {(6, 6)}
    assert [e.done for e in events if e.index == "i0"] == list(range(7))


async def test_todo_restricts_what_is_fetched():
    fake = FakeAdapter("k", {s.id: 1.0 for s in SUBJECTS})
    got, _, _ = await _collect([fake], todo={"k": ["s4", "s5"]})
    assert fake.asked == ["s4", "s5"]
    assert len(got) == 2


async def test_answers_for_unasked_subjects_or_other_indices_are_not_trusted():
    class Confused(FakeAdapter):
        async def fetch(self, subjects):
            yield Reading(index=self.name, subject_id="stranger", value=1.0)
            yield Reading(index="someone-else", subject_id=subjects[0].id, value=1.0)
            yield Reading(index=self.name, subject_id=subjects[1].id, value=2.0)
            yield Reading(index=self.name, subject_id=subjects[1].id, value=3.0)

    got, _, _ = await _collect([Confused("c")])
    pairs = _by_pair(got)
    assert len(got) == 6 and ("c", "stranger") not in pairs
    assert pairs["c", "s0"].kind is FailureKind.ADAPTER_ERROR
    assert pairs["c", "s1"].value == 2.0


async def test_a_columnar_roster_is_collected_like_its_subjects_each_index_asking_its_own_todo():
    roster = Subjects.of(SUBJECTS)
    every = FakeAdapter("every", {s.id: float(i) for i, s in enumerate(SUBJECTS)})
    some = FakeAdapter("some", {s.id: 1.0 for s in SUBJECTS})
    got: list[Reading | Failure] = []
    todo = {"every": list(roster.ids), "some": ["s4", "s1", "nobody", "s4"]}
    await collect([every, some], roster, got.append, todo=todo)
    assert every.asked == list(roster.ids)  # the whole roster, in its order
    assert some.asked == ["s4", "s1", "s4"]  # the todo's order; an id not on the roster is not asked
    pairs = _by_pair(got)
    assert [pairs["every", s.id].value for s in SUBJECTS] == [0.0, 1.0, 2.0, 3.0, 4.0, 5.0]
    assert sorted(sid for index, sid in pairs if index == "some") == ["s1", "s4"]


async def test_subjects_with_one_id_twice_are_asked_once_as_the_last_of_them():
    twice = [Subject(id="a", name="First"), Subject(id="b", name="B"), Subject(id="a", name="Last")]
    seen: list[str] = []

    class Names(FakeAdapter):
        async def fetch(self, subjects):
            seen.extend(s.name for s in subjects)
            async for item in super().fetch(subjects):
                yield item

    got: list[Reading | Failure] = []
    await collect([Names("n", {"a": 1.0, "b": 2.0})], twice, got.append)
    assert seen == ["Last", "B"] and len(got) == 2
