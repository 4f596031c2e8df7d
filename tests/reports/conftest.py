"""A small run, built by hand, whose numbers can be checked with pencil arithmetic.

Percentiles are mid-rank: ``(rank - 0.5) / n * 100`` among the subjects an index scored.

===========  =========  ==========  ====================  =======================
subject      klout      kred        peerindex (lower is   empire_avenue
             1-100      1-1000      better) 0-100         (unbounded)
===========  =========  ==========  ====================  =======================
ada          90 -> 90   800 -> 70   5 -> 87.5             12.5 -> 87.5
bob          40 -> 30   300 -> 10   50 -> 37.5            3.25 -> 62.5
cy (demo)    60 -> 50   600 -> 50   30 -> 62.5            -
dee          20 -> 10   900 -> 90   80 -> 12.5            1 -> 37.5
eve          -          500 -> 30   -                     -
xss          70 -> 70   -           -                     0.5 -> 12.5
===========  =========  ==========  ====================  =======================

consensus (median) / spread (max - min):
ada 87.5 / 20, cy 50 / 12.5, xss 41.25 / 57.5, bob 33.75 / 52.5, dee 25 / 80, eve - / -.
Flagged (spread > 25): dee, xss, bob. Dissenters: dee -> kred (90 vs others' median 12.5,
gap 77.5), bob -> empire_avenue (62.5 vs 30, gap 32.5); xss has two indices, so none.
"""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
from loopback import Inbox, smtp_server

from aggregator.analytics.compare import ScoreTable, compare_table
from aggregator.analytics.outcome import RunOutcome
from aggregator.models import Failure, FailureKind, IndexSpec, Run, Scale, Subject
from reports.model import ReportView, build_view

XSS_NAME = "<script>alert(1)</script>"
XSS_MESSAGE = "vendor said <img src=x onerror=alert(1)>"
NAN = np.nan

SPECS = (
    IndexSpec(name="klout", scale=Scale(lo=1, hi=100), algorithm_version="2014-08",
              measures="ability to drive action on social networks"),
    IndexSpec(name="kred", scale=Scale(lo=1, hi=1000), measures="influence and outreach"),
    IndexSpec(name="peerindex", scale=Scale(lo=0, hi=100), higher_is_better=False,
              measures="rank among peers on a topic"),
    IndexSpec(name="empire_avenue", measures="share price in a social stock market"),
)

SUBJECTS = (
    Subject(id="ada", name="Ada Lovelace"),
    Subject(id="bob", name="Bob Stone"),
    Subject(id="cy", name="Cy Young", synthetic=True),
    Subject(id="dee", name="Dee Falcon"),
    Subject(id="eve", name="Eve Moss"),
    Subject(id="xss", name=XSS_NAME),
)

RAW = np.array([
    [90.0, 800.0, 5.0, 12.5],
    [40.0, 300.0, 50.0, 3.25],
    [60.0, 600.0, 30.0, NAN],
    [20.0, 900.0, 80.0, 1.0],
    [NAN, 500.0, NAN, NAN],
    [70.0, NAN, NAN, 0.5],
])

AT = datetime(2024, 5, 1, 12, 30, tzinfo=UTC)

FAILURES = (
    # deliberately out of report order: the view sorts them
    Failure(index="empire_avenue", subject_id="cy", kind=FailureKind.SERVER_ERROR, attempts=4,
            message="HTTP 503 from vendor", at=AT),
    Failure(index="kred", subject_id="xss", kind=FailureKind.TIMEOUT, attempts=3,
            message="no answer within 10 s", at=AT),
    Failure(index="peerindex", subject_id="eve", kind=FailureKind.NOT_FOUND, message="unknown",
            at=AT),
    Failure(index="peerindex", subject_id="xss", kind=FailureKind.BAD_PAYLOAD,
            message=XSS_MESSAGE, at=AT),
    Failure(index="klout", subject_id="eve", kind=FailureKind.NOT_FOUND, message="unknown",
            at=AT),
    Failure(index="empire_avenue", subject_id="eve", kind=FailureKind.RATE_LIMITED, attempts=2,
            message="HTTP 429", at=AT),
)


def make_outcome(
    raw: np.ndarray = RAW,
    subjects: tuple[Subject, ...] = SUBJECTS,
    specs: tuple[IndexSpec, ...] = SPECS,
    failures: tuple[Failure, ...] = FAILURES,
    *,
    method: str = "percentile",
    opted_out: int = 2,
) -> RunOutcome:
    table = ScoreTable(tuple(s.id for s in subjects), specs, raw)
    comparison = compare_table(table, method=method, failures=failures)
    run = Run(
        id="run-2024-05-01", started_at=datetime(2024, 5, 1, 12, 0, tzinfo=UTC),
        finished_at=datetime(2024, 5, 1, 12, 31, 5, tzinfo=UTC), config_digest="0" * 16,
    )
    return RunOutcome(
        run=run, subjects=subjects, comparison=comparison, failures=failures,
        opted_out=opted_out, title="Weekly influence report",
    )


@pytest.fixture
def outcome() -> RunOutcome:
    return make_outcome()


@pytest.fixture
def build_outcome() -> object:
    """``make_outcome`` itself, for tests that vary the run."""
    return make_outcome


@pytest.fixture
def view(outcome: RunOutcome) -> ReportView:
    return build_view(outcome)


# --- a real SMTP server on loopback (aiosmtpd), with a throwaway CA for its certificates ---------


SMTP_USER, SMTP_PASSWORD = "reports", "s3cret-sentinel-password"


@dataclass
class SmtpServer:
    host: str
    port: int
    inbox: Inbox
    ca_file: Path


@pytest.fixture(scope="session")
def test_ca(tmp_path_factory):
    import trustme

    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(server_context)
    ca_file = tmp_path_factory.mktemp("ca") / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    return server_context, ca_file


def _authenticate(server, session, envelope, mechanism, auth_data):
    from aiosmtpd.smtp import AuthResult

    ok = auth_data.login == SMTP_USER.encode() and auth_data.password == SMTP_PASSWORD.encode()
    return AuthResult(success=ok, handled=False)


def _serve(kind: str, test_ca) -> Iterator[SmtpServer]:
    server_context, ca_file = test_ca
    inbox = Inbox()
    options: dict[str, object] = {}
    if kind == "tls":
        options = {"ssl_context": server_context}
    elif kind == "starttls":
        options = {"tls_context": server_context, "require_starttls": True, "authenticator": _authenticate,
                   "auth_require_tls": True}
    with smtp_server(inbox, **options) as port:
        yield SmtpServer("127.0.0.1", port, inbox, ca_file)


@pytest.fixture
def tls_server(test_ca) -> Iterator[SmtpServer]:
    """Implicit TLS (as on port 465), certificate from the test CA."""
    yield from _serve("tls", test_ca)


@pytest.fixture
def starttls_server(test_ca) -> Iterator[SmtpServer]:
    """STARTTLS required before anything else, login required over TLS."""
    yield from _serve("starttls", test_ca)


@pytest.fixture
def plain_server(test_ca) -> Iterator[SmtpServer]:
    """No TLS at all (a local relay)."""
    yield from _serve("plain", test_ca)


@pytest.fixture(scope="session")
def demo_page(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo's two runs (300 subjects; Klout rescales between them) and its web report."""
    import asyncio

    from aggregator.app import demo

    folder = tmp_path_factory.mktemp("demo")
    return asyncio.run(demo.run_demo(folder, subjects=300, seed=1)).report_path
