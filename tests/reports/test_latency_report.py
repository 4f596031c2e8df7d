"""Index health shows how long each index took, when the run measured it, in every format."""

from __future__ import annotations

from dataclasses import replace

from aggregator.analytics.outcome import IndexTiming
from reports.email import build_email
from reports.model import build_view
from reports.render import render
from reports.sections.health import latency_text

from .conftest import make_outcome

TIMING = {
    "klout": IndexTiming(seconds=10.14, requests=2000, p50=0.042, p95=0.1204),
    "kred": IndexTiming(seconds=1.23),
}


def test_latency_text_says_percentiles_requests_and_time():
    assert latency_text(TIMING["klout"]) == "p50 42 ms, p95 120 ms, 2,000 requests in 10.1 s"
    assert latency_text(TIMING["kred"]) == "collected in 1.2 s"
    assert latency_text(IndexTiming(seconds=0.0042, requests=1, p50=1.5, p95=2.25)) == (
        "p50 1.5 s, p95 2.2 s, 1 request in 4 ms")
    assert latency_text(None) is None


def test_each_index_carries_its_own_timing_and_untimed_ones_none():
    view = build_view(replace(make_outcome(), timing=TIMING))
    by_name = {index.name: index.latency_text for index in view.indices}
    assert by_name == {"klout": "p50 42 ms, p95 120 ms, 2,000 requests in 10.1 s", "kred": "collected in 1.2 s",
                       "peerindex": None, "empire_avenue": None}
    assert all(index.latency_text is None for index in build_view(make_outcome()).indices)


def test_web_text_and_email_text_show_the_latency():
    outcome = replace(make_outcome(), timing=TIMING)
    html = render(outcome, "html")
    assert isinstance(html, str)
    assert '<th scope="col">Latency</th>' in html
    assert '<td data-label="Latency">p50 42 ms, p95 120 ms, 2,000 requests in 10.1 s</td>' in html
    assert '<td data-label="Latency">not measured</td>' in html  # peerindex
    text = render(outcome, "text")
    assert isinstance(text, str)
    assert "p50 42 ms, p95 120 ms, 2,000 requests in 10.1 s" in text
    assert "collected in 1.2 s" in text
    mail_text = " ".join(build_email(build_view(outcome)).text.split())  # wrapped at 72 columns
    assert "latency: p50 42 ms, p95 120 ms, 2,000 requests" in mail_text
    # a run stored before timing was measured says nothing about latency in the text formats
    plain = render(make_outcome(), "text")
    assert isinstance(plain, str) and "latency" not in plain
