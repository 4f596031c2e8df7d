"""Reports at 1,000, 10,000 and 100,000 subjects: web page time and size, first paint, time to
interactive and one sort in headless Chromium, the email's HTML size (<= 90 KB always), and
css-inline against premailer on the same email document.

    python bench/reports.py                 # all three sizes
    python bench/reports.py --sizes 1000    # one

Time to interactive is the page's load event (its script runs last, inline); the sort is one
click on the Consensus header until the next frame, layout included. Its baseline, in the same
page: sorting the same keys as a plain array (the floor any DOM sort pays).

Baselines in the same run: premailer (``pip install '.[bench]'``) inlining the same document as
css-inline; the JSON renderer on the same view (the floor for turning a view into bytes); and
the first paint of a blank page in the same browser. The last line is JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from aggregator.analytics.compare import ScoreTable, compare_table
from aggregator.analytics.outcome import RunOutcome
from aggregator.models import IndexSpec, Run, Scale, Subject
from reports.email import MAX_HTML_BYTES, build_email, digest
from reports.json import JsonRenderer
from reports.model import build_view
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


async def interactive(path: Path) -> dict[str, float | None]:
    """Load (time to interactive), one sort and the array-sort floor, in ms; None past the timeout."""
    from reports._chromium import chromium_path, open_page

    empty: dict[str, float | None] = {"interactive_ms": None, "sort_ms": None, "array_sort_ms": None}
    if chromium_path() is None:
        return empty

    async def measure() -> dict[str, float | None]:
        async with open_page(path.as_uri(), width=1280, height=900) as page:
            loaded = await page.evaluate("performance.getEntriesByType('navigation')[0].loadEventEnd")
            sort = await page.evaluate(SORT)
            floor = await page.evaluate(ARRAY_SORT)
            assert not page.report.problems, page.report.problems
            return {"interactive_ms": None if loaded is None else round(loaded),
                    "sort_ms": round(sort), "array_sort_ms": round(floor, 1)}

    try:
        return await asyncio.wait_for(measure(), INTERACTIVE_TIMEOUT)
    except (TimeoutError, RuntimeError):
        return empty


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


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000, 10_000, 100_000])
    parser.add_argument("--smoke", action="store_true", help="the smallest size, for CI: checks it runs")
    args = parser.parse_args()
    if args.smoke:
        args.sizes = [100]
    repeat = 1 if args.smoke else 3
    folder = Path(tempfile.mkdtemp(prefix="bench-reports-"))
    blank = folder / "blank.html"
    blank.write_text("<!doctype html><html lang=en><title>blank</title><p>blank</p>", encoding="utf-8")
    blank_paint = asyncio.run(paint_ms(blank, repeat))
    results = []
    print(f"{'subjects':>9} {'view s':>7} {'web s':>6} {'json s':>7} {'web KB':>8} {'paint ms':>9} "
          f"{'TTI ms':>8} {'sort ms':>8} {'floor ms':>8} {'email s':>8} {'email KB':>9}")
    for n in args.sizes:
        data = outcome(n)
        view_s, view = timed(lambda data=data: build_view(data), repeat=repeat)
        web_s, html = timed(lambda view=view: HtmlRenderer().render(view), repeat=repeat)
        json_s, _ = timed(lambda view=view: JsonRenderer().render(view), repeat=repeat)
        page = folder / f"report-{n}.html"
        page.write_text(html, encoding="utf-8")
        paint = asyncio.run(paint_ms(page, min(repeat, 1 if n > 10_000 else 3)))
        browser = asyncio.run(interactive(page))
        build_email(view)  # warm matplotlib
        email_s, parts = timed(lambda view=view: build_email(view), repeat=repeat)
        email_bytes = len(parts.html.encode())
        assert email_bytes <= MAX_HTML_BYTES, email_bytes
        row = {
            "subjects": n, "view_s": round(view_s, 3), "web_render_s": round(web_s, 3),
            "json_render_s": round(json_s, 3), "web_vs_json": round(web_s / json_s, 2),
            "web_bytes": len(html.encode()), "first_paint_ms": None if paint is None else round(paint),
            "email_build_s": round(email_s, 3), "email_html_bytes": email_bytes, **browser,
            "sort_vs_array_sort": None if not browser["sort_ms"] or not browser["array_sort_ms"]
            else round(browser["sort_ms"] / max(browser["array_sort_ms"], 0.1), 1),
        }
        results.append(row)
        paint_text = "-" if paint is None else f"{paint:.0f}"
        tti, sort, floor = (("-" if v is None else f"{v:.0f}") for v in browser.values())
        print(f"{n:>9,} {view_s:>7.3f} {web_s:>6.3f} {json_s:>7.3f} {row['web_bytes'] / 1000:>8.0f} "
              f"{paint_text:>9} {tti:>8} {sort:>8} {floor:>8} {email_s:>8.3f} {email_bytes / 1000:>9.1f}")
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


if __name__ == "__main__":
    main()
