"""The adapter contract, for every registered adapter, against the sandbox vendors on 127.0.0.1.

Each HTTP adapter meets each situation of its vendor — a good path, people it does not know,
a wrong key, its rate limit (429 or 403 with Retry-After), 5xx then success, a vendor that
never answers, malformed JSON, HTML with status 200, values out of range — and must give one
Reading or the right Failure per subject, never raise, and never let its key reach a Failure,
a log line or a stored row. Built through the ``aggregator.adapters`` entry points, as a
config would build them. A newly registered adapter fails here until it gets a harness.
"""

from __future__ import annotations

import logging
import math
import re
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from adapters.sandbox.launch import RunningVendor, launch
from adapters.sandbox.servers import Faults
from aggregator.collection.store import Store
from aggregator.models import Failure, FailureKind, Reading, Run, Subject, utc_now
from aggregator.plugins import Adapter, Limits, adapters
from aggregator.ratelimit import RateLimit

DOC = Path(__file__).resolve().parents[2] / "docs" / "http_json.md"


def _http_json_options(vendor: RunningVendor) -> dict[str, Any]:
    """docs/http_json.md's first example (PeerIndex, declared in config), aimed at the sandbox."""
    block = re.findall(r"```toml\n(.*?)```", DOC.read_text(encoding="utf-8"), flags=re.DOTALL)[0]
    options = dict(tomllib.loads(block)["indices"]["peerindex_json"]["options"])
    options["url"] = options["url"].replace("https://api.peerindex.com", vendor.base_url)
    return {**options, "api_key": vendor.api_key}


@dataclass(frozen=True)
class Harness:
    vendor: str  # the sandbox server the adapter talks to
    tolerance: float  # how far a reading may sit from the vendor's own figure (rounding, integers)
    options: Callable[[RunningVendor], dict[str, Any]] = field(default=lambda vendor: vendor.options())
    batched: bool = False


HARNESSES = {
    "klout": Harness("klout", 1e-9),
    "peerindex": Harness("peerindex", 1.0),
    "kred": Harness("kred", 1.0, batched=True),
    "empireavenue": Harness("empireavenue", 1e-5, batched=True),
    "http_json": Harness("peerindex", 1.0, _http_json_options),
}
#: registered adapters with no vendor API behind them, tested in their own files
OFFLINE = {"files": "reads exports (tests/adapters/test_files.py)",
           "inhouse": "scores the roster itself (tests/adapters/test_inhouse.py)"}
NAMES = adapters.names()
HTTP = [name for name in NAMES if name in HARNESSES]


def test_every_registered_adapter_has_a_contract_harness():
    missing = [name for name in NAMES if name not in HARNESSES and name not in OFFLINE]
    assert not missing, f"add a Harness in tests/adapters/test_contract.py for: {missing}"
    assert set(HARNESSES) <= set(NAMES), "every built-in HTTP adapter is registered as an entry point"


@dataclass
class Outcome:
    results: dict[str, Reading | Failure]
    adapter: Any
    vendor: RunningVendor
    truth: dict[str, float]  # the vendor's own figure for each subject it knows


def people(vendor: RunningVendor, sandbox: Any, known: int = 6, unknown: int = 2) -> tuple[list[Subject], dict]:
    """Subjects the vendor scores (with its own figures), people it does not, and a stranger."""
    scores = sandbox.people.scores(vendor.name, 1)
    rows = [row for row in range(len(sandbox.handles)) if scores.known[row]][:known]
    gaps = [row for row in range(len(sandbox.handles)) if not scores.known[row]][:unknown]
    subjects = [Subject(id=f"k{row}", name="K", handles={"twitter": sandbox.handles[row]}) for row in rows]
    subjects += [Subject(id=f"u{row}", name="U", handles={"twitter": sandbox.handles[row]}) for row in gaps]
    subjects.append(Subject(id="stranger", name="S", handles={"twitter": "no_such_person_42"}))
    return subjects, {f"k{row}": float(scores.values[row]) for row in rows}


async def run_case(name: str, tmp_path: Path, caplog: pytest.LogCaptureFixture, *, faults: Faults | None = None,
                   vendor_limit: str = "1000/s", rate: str = "1000/s", key: str | None = None, known: int = 6,
                   unknown: int = 2, seed: int = 3, **options: Any) -> Outcome:
    harness = HARNESSES[name]
    caplog.set_level(logging.DEBUG)
    async with launch([harness.vendor], faults={harness.vendor: faults} if faults else None,
                      limits={harness.vendor: vendor_limit}, seed=seed) as sandbox:
        vendor = sandbox[harness.vendor]
        factory = adapters.load(name)
        settings = {**harness.options(vendor), "timeout_seconds": 0.3, "max_attempts": 3, "backoff_seconds": 0.01,
                    "backoff_max_seconds": 2.0, **options}
        if key is not None:
            settings["api_key"] = key
        adapter = factory(name, factory.Config.model_validate(settings), Limits(rate=RateLimit.parse(rate)))
        assert isinstance(adapter, Adapter)
        subjects, truth = people(vendor, sandbox, known, unknown)
        found = [item async for item in adapter.fetch(subjects)]
    assert sorted(item.subject_id for item in found) == sorted(s.id for s in subjects)  # one answer each
    assert all(item.index == name for item in found)
    secret = settings["api_key"]
    stored = store_bytes(tmp_path, subjects, adapter.spec, found)
    for text in [caplog.text, *(item.model_dump_json() for item in found), repr(adapter.stats)]:
        assert secret not in text
    assert secret.encode() not in stored
    return Outcome({item.subject_id: item for item in found}, adapter, vendor, truth)


def store_bytes(tmp_path: Path, subjects: list[Subject], spec: Any, found: list[Reading | Failure]) -> bytes:
    """What the store would hold, byte for byte (database and write-ahead log)."""
    with Store(tmp_path / "history.sqlite") as store:
        store.start_run(Run(id="r", started_at=utc_now(), config_digest=""), subjects, [spec])
        for item in found:
            store.add("r", item)
    return b"".join(path.read_bytes() for path in tmp_path.glob("history.sqlite*"))


def kinds(outcome: Outcome) -> dict[str, FailureKind | None]:
    return {sid: None if isinstance(r, Reading) else r.kind for sid, r in outcome.results.items()}


@pytest.mark.parametrize("name", HTTP)
async def test_good_path_and_people_the_vendor_does_not_know(name, tmp_path, caplog):
    outcome = await run_case(name, tmp_path, caplog)
    for sid, value in outcome.truth.items():
        reading = outcome.results[sid]
        assert isinstance(reading, Reading), reading
        assert reading.scale.contains(reading.value) and reading.raw
        assert math.isclose(reading.value, value, abs_tol=HARNESSES[name].tolerance), (reading.value, value)
    gaps = {sid: kind for sid, kind in kinds(outcome).items() if not sid.startswith("k")}
    assert set(gaps.values()) == {FailureKind.NOT_FOUND}, gaps  # a coverage gap, never a zero


@pytest.mark.parametrize("name", HTTP)
async def test_a_wrong_key_is_auth_for_everyone_and_never_retried(name, tmp_path, caplog):
    outcome = await run_case(name, tmp_path, caplog, key="wrong-key-SENTINEL-31337")
    assert set(kinds(outcome).values()) <= {FailureKind.AUTH, FailureKind.NOT_FOUND}
    asked = [r for sid, r in outcome.results.items() if sid != "stranger" or not HARNESSES[name].batched]
    assert {r.kind for r in asked if isinstance(r, Failure)} == {FailureKind.AUTH}
    assert outcome.adapter.stats["retry/count"] == 0


@pytest.mark.parametrize("name", HTTP)
async def test_over_the_vendors_limit_it_waits_out_retry_after_and_succeeds(name, tmp_path, caplog):
    # the vendor allows 2 requests a second; the adapter is told it may send 50
    outcome = await run_case(name, tmp_path, caplog, vendor_limit="2/s", rate="50/s", known=3, unknown=0,
                             **({"batch_size": 1} if HARNESSES[name].batched else {}), max_attempts=6)
    assert outcome.vendor.server.stats["rate_limited"] > 0
    assert outcome.adapter.stats["retry/reason/rate_limited"] > 0
    assert all(isinstance(outcome.results[sid], Reading) for sid in outcome.truth)


@pytest.mark.parametrize("name", HTTP)
async def test_5xx_then_success(name, tmp_path, caplog):
    one_each = {"batch_size": 1} if HARNESSES[name].batched else {}  # enough requests for the faults to land
    outcome = await run_case(name, tmp_path, caplog, faults=Faults(shares={"server_error": 0.5}), max_attempts=10,
                             **one_each)
    assert outcome.vendor.server.stats["fault/server_error"] > 0
    assert outcome.adapter.stats["retry/reason/server_error"] > 0
    assert all(isinstance(outcome.results[sid], Reading) for sid in outcome.truth)


@pytest.mark.parametrize("name", HTTP)
async def test_a_vendor_that_never_answers_times_out_after_its_attempts(name, tmp_path, caplog):
    outcome = await run_case(name, tmp_path, caplog, faults=Faults(shares={"timeout": 1.0}), known=2, unknown=0,
                             timeout_seconds=0.15, max_attempts=2)
    failures = [r for sid, r in outcome.results.items() if sid != "stranger"]
    assert {(f.kind, f.attempts) for f in failures if isinstance(f, Failure)} == {(FailureKind.TIMEOUT, 2)}
    assert len(failures) == 2


@pytest.mark.parametrize("fault", ["malformed", "html"])
@pytest.mark.parametrize("name", HTTP)
async def test_malformed_json_and_html_with_200_are_retried_then_bad_payloads_asked_again_on_resume(
        name, fault, tmp_path, caplog):
    outcome = await run_case(name, tmp_path, caplog, faults=Faults(shares={fault: 1.0}), known=3, unknown=0)
    failures = [r for sid, r in outcome.results.items() if sid != "stranger"]
    assert {(f.kind, f.attempts) for f in failures if isinstance(f, Failure)} == {(FailureKind.BAD_PAYLOAD, 3)}
    assert len(failures) == 3
    assert outcome.adapter.stats["retry/reason/bad_payload"] > 0
    assert not FailureKind.BAD_PAYLOAD.is_final


@pytest.mark.parametrize("name", HTTP)
async def test_values_out_of_range_are_failures_never_clipped(name, tmp_path, caplog):
    outcome = await run_case(name, tmp_path, caplog, faults=Faults(shares={"out_of_range": 1.0}), known=3, unknown=0)
    for sid in outcome.truth:
        failure = outcome.results[sid]
        assert isinstance(failure, Failure) and failure.kind is FailureKind.OUT_OF_RANGE, failure


@pytest.mark.parametrize("name", sorted(OFFLINE))
def test_offline_adapters_are_tested_in_their_own_files(name):
    if name not in NAMES:
        pytest.skip(f"{name} is not installed")
    assert Path(__file__).with_name(f"test_{name}.py").is_file(), OFFLINE[name]
