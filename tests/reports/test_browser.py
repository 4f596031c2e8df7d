"""The web report as a person sees it: the demo's page opened in headless Chromium.

Fails on any console error, uncaught exception or failed request; checks that sorting works
from the keyboard, that the filter and the per-subject detail work, and saves a screenshot
(into ``$REPORT_SCREENSHOTS`` when set, as the README's is made). Skipped, with the reason,
where no Chromium is installed; CI installs Debian's.
"""

from __future__ import annotations

import asyncio
import json
import os
import tomllib
from pathlib import Path

import pytest

from aggregator.app import demo
from reports._chromium import chromium_path, open_page
from reports.model import build_view
from reports.web import HtmlRenderer

ROWS = "#standing-table tbody tr"

pytestmark = pytest.mark.skipif(
    chromium_path() is None, reason="Chromium is not installed (/usr/bin/chromium); CI installs it"
)


@pytest.fixture(scope="module")
def demo_page(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("demo")
    return asyncio.run(demo.run_demo(folder, subjects=300, seed=1)).report_path


def _shots() -> Path | None:
    where = os.environ.get("REPORT_SCREENSHOTS")
    return Path(where) if where else None


async def test_demo_report_opens_clean_and_works_from_the_keyboard(demo_page, tmp_path):
    async with open_page(demo_page.as_uri(), width=1280, height=1400) as page:
        assert await page.evaluate("document.querySelectorAll('#standing-table tbody tr').length") == 300
        # everything is in the file: the page asked for nothing but itself
        assert page.report.requests == [demo_page.as_uri()]

        # sort from the keyboard: focus the Consensus header's button, press Enter
        await page.evaluate("document.querySelectorAll('#standing-table thead button')[2].focus()")
        await page.press("Enter")
        assert await page.evaluate(
            "document.querySelectorAll('#standing-table thead th')[2].getAttribute('aria-sort')"
        ) == "ascending"
        first = await page.evaluate(f"parseFloat(document.querySelector('{ROWS} td:nth-child(3)').textContent)")
        last = await page.evaluate(
            "parseFloat([...document.querySelectorAll('#standing-table tbody tr td:nth-child(3)')]"
            ".map(c => c.textContent).filter(t => t !== '—').pop())"
        )
        assert first <= last
        await page.press("Enter")
        assert await page.evaluate(
            "document.querySelectorAll('#standing-table thead th')[2].getAttribute('aria-sort')"
        ) == "descending"

        # filter by name
        name = await page.evaluate("document.querySelector('#standing-table tbody th').textContent.trim()")
        await page.evaluate(
            f"(() => {{ const q = document.getElementById('q'); q.value = {json.dumps(name)}; "
            "q.dispatchEvent(new Event('input')); })()"
        )
        await asyncio.sleep(0.4)  # the filter waits 120 ms for typing to pause
        shown = await page.evaluate(f"[...document.querySelectorAll('{ROWS}')].filter(r => !r.hidden).length")
        assert 1 <= shown < 300
        assert "subjects shown" in await page.evaluate("document.getElementById('q-count').textContent")

        # a subject's detail, opened from the keyboard, closed with Escape
        await page.evaluate("document.querySelector('#standing-table tbody tr:not([hidden]) th button').focus()")
        await page.press("Enter")
        assert await page.evaluate("document.getElementById('detail').open") is True
        assert await page.evaluate("document.getElementById('detail-h').textContent") == name
        indices = len(tomllib.loads((demo_page.parent / "config.toml").read_text())["indices"])
        assert await page.evaluate("document.querySelectorAll('#detail-table tbody tr').length") == indices
        await page.press("Escape")
        assert await page.evaluate("document.getElementById('detail').open") is False

        await page.evaluate("(() => { const q = document.getElementById('q'); q.value = ''; "
                            "q.dispatchEvent(new Event('input')); })()")
        await asyncio.sleep(0.3)
        await page.evaluate("document.activeElement.blur(); window.scrollTo(0, 0)")
        png = await page.screenshot(tmp_path / "report-web.png")
        assert png.startswith(b"\x89PNG")
        if _shots():
            await page.screenshot(_shots() / "report-web.png")
        assert page.report.problems == []


async def test_dark_mode_and_print_open_clean(demo_page, tmp_path):
    async with open_page(demo_page.as_uri(), width=900, height=900, dark=True) as page:
        background = await page.evaluate("getComputedStyle(document.body).backgroundColor")
        assert background == "rgb(13, 17, 23)"
        await page.send("Emulation.setEmulatedMedia", media="print")
        assert await page.evaluate("getComputedStyle(document.querySelector('.scroll')).overflow") == "visible"
        assert page.report.problems == []


async def test_hostile_names_stay_text_in_the_browser(outcome, tmp_path):
    path = tmp_path / "hostile.html"
    path.write_text(HtmlRenderer().render(build_view(outcome)), encoding="utf-8")
    async with open_page(path.as_uri()) as page:
        assert await page.evaluate("document.scripts.length") == 1
        assert await page.evaluate("document.querySelectorAll('img').length") == 0
        names = await page.evaluate("[...document.querySelectorAll('#standing-table th')].map(t => t.textContent)")
        assert any("<script>alert(1)</script>" in name for name in names)
        assert page.report.problems == []
        assert page.report.requests == [path.as_uri()]


async def test_the_email_renders_clean_at_600px(demo_page, tmp_path):
    """The email's HTML part in a browser, its cid: images served from files beside it."""
    import re

    from aggregator.app.history import outcome_from_store
    from aggregator.collection.store import Store
    from reports.email import build_email

    with Store(demo_page.parent / "history.sqlite") as store:
        outcome = outcome_from_store(store, store.runs()[-1].id, title="Influence report (demo data)")
    parts = build_email(build_view(outcome))
    html = parts.html
    for n, image in enumerate(parts.images):
        (tmp_path / f"image{n}.png").write_bytes(image.png)
        html = html.replace(f"cid:{image.cid}", f"image{n}.png")
    assert not re.search(r'src="cid:', html)
    path = tmp_path / "email.html"
    path.write_text(html, encoding="utf-8")
    async with open_page(path.as_uri(), width=700, height=900) as page:
        assert await page.evaluate("document.querySelector('table.main').getBoundingClientRect().width") == 600
        assert await page.evaluate("[...document.images].every(i => i.complete && i.naturalWidth > 0)")
        assert page.report.problems == []
        assert len(page.report.requests) == 1 + len(parts.images)
        height = int(await page.evaluate("document.documentElement.scrollHeight"))
        await page.screenshot(tmp_path / "report-email.png", full_height=height)
        if _shots():
            await page.screenshot(_shots() / "report-email.png", full_height=min(height, 3000))
