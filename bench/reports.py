"""Reports at 1,000, 10,000 and 100,000 subjects (and 1,000,000 with ``--sizes``): the page's size,
time to interactive, one sort and one filter in headless Chromium; building the view and rendering
it as web, text and JSON in Python, and writing the full standing's CSV; the email's HTML size
(<= 90 KB always); and css-inline against premailer on the same email document.

    python bench/reports.py                          # 1,000, 10,000 and 100,000 subjects
    python bench/reports.py --sizes 1000000 --baseline-max 0   # the page at a million
    python bench/reports.py --smoke                  # the smallest size, for CI

Time to interactive is the page's load event (its script runs last, inline); a sort is one
click on the Consensus header until the next frame, layout included; a filter is typing a name
into the filter box until the next frame after the count of shown rows changes, less the
filter's 120 ms debounce (a wait, not work). Five of each per page: the median and the range.
Past 500 subjects the page lists a shortlist and the full standing goes to a CSV file
(reports/sections/standing.py).

Baselines in the same run: **the full page** (every subject in the standing, as before the
shortlist) at the same size, in the same browser, up to ``--baseline-max`` subjects (default
10,000: at 100,000 the full page is a 40 MB table whose load and sort take minutes); sorting the
same keys as a plain array in the page (the floor any DOM sort pays); premailer (``pip install
'.[bench]'``) inlining the same document as css-inline; the JSON renderer on the same view (the
floor for turning a view into bytes); and the first paint of a blank page. The last line is JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import statistics
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from aggregator.analytics.compare import ScoreTable, compare_table
from aggregator.analytics.outcome import RunOutcome
from aggregator.models import IndexSpec, Run, Scale, Subject
from reports import model
from reports.email import MAX_HTML_BYTES, build_email, digest
from reports.json import JsonRenderer
from reports.model import ReportView, build_view
from reports.standing_csv import write_standing_csv
from reports.text import TextRenderer
from reports.web import HtmlRenderer, environment

FIRST = ["Amber", "Silver", "Quiet", "Lucky", "Bright", "Velvet", "Cosmic", "Hidden", "Gentle", "Rosy"]
LAST = ["Falcon", "Otter", "Birch", "Koala", "Heron", "Quartz", "Comet", "Maple", "Lynx", "Finch"]


def outcome(n: int, seed: int = 7) -> RunOutcome:
    rng = np.random.default_rng(seed)
    specs = (
        IndexSpec(name="klout", label="Klout", scale=Scale(lo=1, hi=100)),
        IndexSpec(name="kred", label="Kred", scale=Scale(lo=1, hi=1000)),
        IndexSpec(name="peerindex", label="PeerIndex", scale=Scale(lo=0, hi=100)),
        IndexSpec(name="empireavenue", label="Empire Avenue"),
        IndexSpec(name="inhouse", label="In-house", scale=Scale(lo=0, hi=100)),
    )
    latent = rng.normal(size=n)
    raw = np.column_stack([
        np.clip(50 + 15 * (latent + rng.normal(scale=0.6, size=n)), 1, 100).round(2),
        np.clip(500 + 150 * (latent + rng.normal(scale=0.8, size=n)), 1, 1000).round(0),
        np.clip(50 + 15 * (latent + rng.normal(scale=1.0, size=n)), 0, 100).round(0),
        np.exp(3 + latent + rng.normal(scale=0.7, size=n)).round(2),
        np.clip(50 + 15 * (latent + rng.normal(scale=0.5, size=n)), 0, 100).round(1),
    ])
    raw[rng.random(raw.shape) < 0.08] = np.nan
    subjects = tuple(
        Subject(id=f"s{i}", name=f"{FIRST[i % 10]} {LAST[(i // 10) % 10]} {i}") for i in range(n)
    )
    table = ScoreTable(tuple(s.id for s in subjects), specs, raw)
    run = Run(id=f"bench-{n}", started_at=_now(), config_digest="0")
    return RunOutcome(run=run, subjects=subjects, comparison=compare_table(table), failures=(), title="Bench report")


def _now():
    from datetime import UTC, datetime

    return datetime(2026, 11, 22, 9, 0, tzinfo=UTC)


def timed(fn, repeat: int = 3):
    times, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


async def paint_ms(path: Path, repeat: int = 3) -> float | None:
    from reports._chromium import chromium_path, open_page

    if chromium_path() is None:
        return None
    samples = []
    for _ in range(repeat):
        async with open_page(path.as_uri(), width=1280, height=900) as page:
            samples.append(await page.first_contentful_paint_ms())
            assert not page.report.problems, page.report.problems
    return statistics.median(samples)


#: seconds a page may take to become interactive before the measurement gives up on it
INTERACTIVE_TIMEOUT = 300.0

SORT = """(() => { const t = performance.now();
  document.querySelectorAll('#standing-table thead button')[2].click(); document.body.offsetHeight;
  return new Promise(r => requestAnimationFrame(() => r(performance.now() - t))); })()"""
ARRAY_SORT = """(() => { const keys = [...document.querySelectorAll('#standing-table tbody tr')]
  .map((row, n) => [parseFloat(row.cells[2].textContent), n]); const t = performance.now();
  keys.sort((a, b) => (a[0] - b[0]) || (a[1] - b[1])); return performance.now() - t; })()"""
#: type the name of the row at a fraction of the table; resolve on the next frame after the count of shown
#: rows changes
FILTER = """((at) => { const q = document.getElementById('q'), count = document.getElementById('q-count');
  const rows = document.querySelectorAll('#standing-table tbody tr');
  const name = rows[Math.floor(at * (rows.length - 1))].cells[1].textContent.trim().toLowerCase();
  return new Promise(resolve => {
    const t = performance.now();
    new MutationObserver((_, seen) => { seen.disconnect(); document.body.offsetHeight;
      requestAnimationFrame(() => resolve([performance.now() - t - DEBOUNCE, count.textContent])); })
      .observe(count, {childList: true, characterData: true, subtree: true});
    q.value = name; q.dispatchEvent(new Event('input'));
  }); })(AT)""".replace("DEBOUNCE", "120")
#: sorts and filters timed in each page (the median is reported, and the spread)
CLICKS = 5


async def interactive(path: Path) -> dict[str, Any]:
    """Load (time to interactive), one sort, one filter and the array-sort floor, in ms; None past the timeout."""
    from reports._chromium import chromium_path, open_page

    empty: dict[str, Any] = {"interactive_ms": None, "sort_ms": None, "sort_range_ms": None, "filter_ms": None,
                             "filter_range_ms": None, "array_sort_ms": None}
    if chromium_path() is None:
        return empty

    async def measure() -> dict[str, Any]:
        async with open_page(path.as_uri(), width=1280, height=900) as page:
            loaded = await page.evaluate("performance.getEntriesByType('navigation')[0].loadEventEnd")
            sorts = [await page.evaluate(SORT) for _ in range(CLICKS)]  # each click turns the order round
            filters = []
            for n in range(CLICKS):
                filtered, shown = await page.evaluate(FILTER.replace("AT", str(n / (CLICKS - 1))))
                assert not shown.startswith("0 of"), shown  # the filter found the name
                filters.append(max(filtered, 0.0))
            floor = await page.evaluate(ARRAY_SORT)
            assert not page.report.problems, page.report.problems
            return {"interactive_ms": None if loaded is None else round(loaded),
                    "sort_ms": round(statistics.median(sorts)), "sort_range_ms": [round(min(sorts)), round(max(sorts))],
                    "filter_ms": round(statistics.median(filters)),
                    "filter_range_ms": [round(min(filters)), round(max(filters))], "array_sort_ms": round(floor, 1)}

    try:
        return await asyncio.wait_for(measure(), INTERACTIVE_TIMEOUT)
    except (TimeoutError, RuntimeError):
        return empty


def full_view(data: RunOutcome) -> ReportView:
    """The baseline: the view with every subject in the standing, as before the shortlist."""
    past = model.SHORTLIST_PAST
    model.SHORTLIST_PAST = len(data.subjects)
    try:
        return build_view(data)
    finally:
        model.SHORTLIST_PAST = past


def peak_mb(fn: Callable[[], object]) -> float:
    """tracemalloc's peak while ``fn`` runs, in MB."""
    tracemalloc.start()
    try:
        fn()
        return round(tracemalloc.get_traced_memory()[1] / 1e6, 1)
    finally:
        tracemalloc.stop()


def inliner_ratio(html: str) -> dict[str, float | None]:
    import css_inline

    inliner = css_inline.CSSInliner(load_remote_stylesheets=False, keep_at_rules=True, minify_css=True)
    inliner.inline(html)  # warm
    ours, out = timed(lambda: inliner.inline(html), repeat=7)
    figures: dict[str, float | None] = {
        "inline_css_inline_ms": round(ours * 1000, 2), "inline_css_inline_bytes": len(out.encode()),
        "inline_premailer_ms": None, "inline_premailer_bytes": None, "inliner_ratio": None,
    }
    try:
        import logging

        import premailer
    except ImportError:
        print("premailer not installed (pip install '.[bench]'): no inliner baseline", file=sys.stderr)
        return figures

    def run() -> str:
        return str(premailer.Premailer(html, allow_network=False, cssutils_logging_level=logging.CRITICAL,
                                       strip_important=False).transform(pretty_print=False))

    run()
    theirs, other = timed(run, repeat=5)
    figures.update(
        inline_premailer_ms=round(theirs * 1000, 2), inline_premailer_bytes=len(other.encode()),
        inliner_ratio=round(theirs / ours, 1),
    )
    return figures


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f}"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000, 10_000, 100_000])
    parser.add_argument("--baseline-max", type=int, default=10_000,
                        help="largest roster whose full page is opened as the baseline (0: none)")
    parser.add_argument("--smoke", action="store_true", help="the smallest sizes, for CI: checks it runs")
    args = parser.parse_args()
    if args.smoke:
        args.sizes = [100, 1_000]
    repeat = 1 if args.smoke else 3
    folder = Path(tempfile.mkdtemp(prefix="bench-reports-"))
    blank = folder / "blank.html"
    blank.write_text("<!doctype html><html lang=en><title>blank</title><p>blank</p>", encoding="utf-8")
    blank_paint = asyncio.run(paint_ms(blank, repeat))
    results = []
    print(f"{'subjects':>9} {'rows':>6} {'view s':>7} {'MB':>6} {'web s':>6} {'text s':>6} {'json s':>6} "
          f"{'csv s':>6} {'web KB':>7} {'paint':>6} {'TTI ms':>7} {'sort ms':>8} {'filter':>7} "
          f"{'full KB':>8} {'full TTI':>9} {'full sort':>9} {'full filt':>9} {'email KB':>8}")
    for n in args.sizes:
        data = outcome(n)
        # a copy of the outcome each time: build_view keeps the last outcome's view, and a repeat
        # must build it again
        view_s, view = timed(lambda data=data: build_view(dataclasses.replace(data)), repeat=repeat)
        view_mb = peak_mb(lambda data=data: build_view(dataclasses.replace(data)))
        web_s, html = timed(lambda view=view: HtmlRenderer().render(view), repeat=repeat)
        text_s, _ = timed(lambda view=view: TextRenderer().render(view), repeat=repeat)
        json_s, _ = timed(lambda view=view: JsonRenderer().render(view), repeat=repeat)
        csv_path = folder / f"report-{n}.standing.csv"
        csv_s, _ = timed(lambda data=data, path=csv_path: _write_csv(data, path), repeat=1 if n > 100_000 else repeat)
        page = folder / f"report-{n}.html"
        page.write_text(html, encoding="utf-8")
        paint = asyncio.run(paint_ms(page, min(repeat, 1 if n > 10_000 else 3)))
        browser = asyncio.run(interactive(page))
        full: dict[str, Any] = {"interactive_ms": None, "sort_ms": None, "sort_range_ms": None, "filter_ms": None,
                                "filter_range_ms": None, "array_sort_ms": None}
        full_bytes = None
        if len(view.standing) < n <= args.baseline_max:
            full_page = folder / f"report-{n}-full.html"
            full_html = HtmlRenderer().render(full_view(data))
            full_bytes = len(full_html.encode())
            full_page.write_text(full_html, encoding="utf-8")
            full = asyncio.run(interactive(full_page))
        build_email(view)  # warm matplotlib
        email_s, parts = timed(lambda view=view: build_email(view), repeat=repeat)
        email_bytes = len(parts.html.encode())
        assert email_bytes <= MAX_HTML_BYTES, email_bytes
        row = {
            "subjects": n, "rows_shown": len(view.standing), "view_s": round(view_s, 3), "view_peak_mb": view_mb,
            "web_render_s": round(web_s, 3), "text_render_s": round(text_s, 3), "json_render_s": round(json_s, 3),
            "csv_write_s": round(csv_s, 3), "csv_bytes": csv_path.stat().st_size,
            "web_vs_json": round(web_s / json_s, 2),
            "web_bytes": len(html.encode()), "first_paint_ms": None if paint is None else round(paint),
            "email_build_s": round(email_s, 3), "email_html_bytes": email_bytes, **browser,
            "sort_vs_array_sort": None if not browser["sort_ms"] or not browser["array_sort_ms"]
            else round(browser["sort_ms"] / max(browser["array_sort_ms"], 0.1), 1),
            "full_web_bytes": full_bytes, **{f"full_{key}": value for key, value in full.items()},
            "full_sort_vs_sort": None if not full["sort_ms"] or not browser["sort_ms"]
            else round(full["sort_ms"] / max(browser["sort_ms"], 1), 1),
        }
        results.append(row)
        print(f"{n:>9,} {len(view.standing):>6,} {view_s:>7.3f} {view_mb:>6.1f} {web_s:>6.3f} {text_s:>6.3f} "
              f"{json_s:>6.3f} {csv_s:>6.2f} {row['web_bytes'] / 1000:>7.0f} {_ms(paint):>6} "
              f"{_ms(browser['interactive_ms']):>7} {_ms(browser['sort_ms']):>8} {_ms(browser['filter_ms']):>7} "
              f"{'-' if full_bytes is None else f'{full_bytes / 1000:.0f}':>8} {_ms(full['interactive_ms']):>9} "
              f"{_ms(full['sort_ms']):>9} {_ms(full['filter_ms']):>9} {email_bytes / 1000:>8.1f}")
    # the inliners on the same document: the email template for the largest roster, before inlining
    view = build_view(outcome(max(args.sizes)))
    raw_email = environment().get_template("email.html.j2").render(view=view, d=digest(view), chart=None)
    inline = inliner_ratio(raw_email)
    print(f"css-inline {inline['inline_css_inline_ms']} ms -> {inline['inline_css_inline_bytes']:,} B; "
          f"premailer {inline['inline_premailer_ms']} ms -> {inline['inline_premailer_bytes']} B; "
          f"ratio {inline['inliner_ratio']}x (input {len(raw_email.encode()):,} B)")
    print(f"blank page first paint: {blank_paint} ms")
    print(json.dumps({
        "sizes": results, "blank_first_paint_ms": blank_paint, "email_input_bytes": len(raw_email.encode()),
        **inline, "max_email_html_bytes": max(r["email_html_bytes"] for r in results),
    }))


def _write_csv(data: RunOutcome, path: Path) -> None:
    with path.open("wb") as handle:
        write_standing_csv(data, handle)


if __name__ == "__main__":
    main()
