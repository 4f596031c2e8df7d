"""The web report and the email as a person sees them: the demo's opened in headless Chromium.

Fails on any console error, uncaught exception or failed request; checks that sorting works
from the keyboard, that the filter and the per-subject detail work; that at 375, 768, 1280 and
1440 px (the email from 320 px), light and dark, no page is taller than its content or wider
than the screen and axe-core finds no WCAG 2 A/AA violation; and that the Nu HTML checker finds
no error. Saves screenshots (into ``$REPORT_SCREENSHOTS`` when set, as the README's are made).
Skipped, with the reason, where no Chromium (or axe-core, or Java and vnu-jar) is installed;
CI installs them.
"""

from __future__ import annotations

import asyncio
import json
import os
import tomllib
from pathlib import Path

import pytest

from reports._chromium import chromium_path, open_page
from reports.model import build_view
from reports.web import HtmlRenderer

from .checkers import AXE_MISSING, VNU_MISSING, axe_script, axe_violations, nu_errors, vnu_jar

ROWS = "#standing-table tbody tr"

pytestmark = pytest.mark.skipif(
    chromium_path() is None, reason="Chromium is not installed (/usr/bin/chromium); CI installs it"
)


#: the screens the pages must fit: phone, tablet, laptop, desktop
WIDTHS = (375, 768, 1280, 1440)
#: the email from the narrowest phone up, past its 600 px
EMAIL_WIDTHS = (320, 375, 600, 768)
needs_axe = pytest.mark.skipif(axe_script() is None, reason=AXE_MISSING)
needs_vnu = pytest.mark.skipif(vnu_jar() is None, reason=VNU_MISSING)

#: the page's full height and width against its content's: the bottom of the last laid-out
#: element (dialogs and scripts aside) and the viewport's width
MEASURE = """(() => {
  const root = document.documentElement;
  let bottom = 0;
  for (const el of document.body.children) {
    if (el.tagName === "SCRIPT" || el.tagName === "DIALOG") continue;
    const box = el.getBoundingClientRect();
    if (box.height) bottom = Math.max(bottom, box.bottom + scrollY + parseFloat(getComputedStyle(el).marginBottom));
  }
  const style = getComputedStyle(document.body);
  const below = parseFloat(style.marginBottom) + parseFloat(style.paddingBottom);
  return {height: root.scrollHeight, content: Math.ceil(bottom + below),
          width: root.scrollWidth, screen: root.clientWidth};
})()"""


@pytest.fixture(scope="module")
def email_page(demo_page, tmp_path_factory) -> tuple[Path, int]:
    """The demo email's HTML part as a file, its cid: images served from files beside it; and their count."""
    import re

    from aggregator.app.history import outcome_from_store
    from aggregator.collection.store import Store
    from reports.email import build_email

    with Store(demo_page.parent / "history.sqlite") as store:
        outcome = outcome_from_store(store, store.runs()[-1].id, title="Influence report (demo data)")
    parts = build_email(build_view(outcome))
    folder = tmp_path_factory.mktemp("email")
    html = parts.html
    for n, image in enumerate(parts.images):
        (folder / f"image{n}.png").write_bytes(image.png)
        html = html.replace(f"cid:{image.cid}", f"image{n}.png")
    assert not re.search(r'src="cid:', html)
    path = folder / "email.html"
    path.write_text(html, encoding="utf-8")
    return path, len(parts.images)


async def _fits(page, width: int, dark: bool) -> dict[str, float]:
    await page.view_as(width, dark=dark)
    measured = await page.evaluate(MEASURE)
    where = f"at {width} px, {'dark' if dark else 'light'}: {measured}"
    assert measured["height"] <= measured["content"] + 1, f"taller than its content {where}"
    assert measured["width"] <= measured["screen"], f"wider than the screen {where}"
    return measured


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


async def test_the_page_fits_every_screen_light_and_dark(demo_page, tmp_path):
    async with open_page(demo_page.as_uri()) as page:
        for width in WIDTHS:
            for dark in (False, True):
                await _fits(page, width, dark)
        # a table wider than its box says there is more to the side
        await page.view_as(375)
        wide = "document.getElementById('standing-table').closest('.scroll').hasAttribute('data-more')"
        assert await page.evaluate(wide) is True
        assert page.report.problems == []
        for width, height, dark, name in ((1280, 1400, True, "report-web-dark.png"),
                                          (375, 800, False, "report-web-phone.png")):
            await page.view_as(width, height, dark=dark)
            await page.evaluate("window.scrollTo(0, document.getElementById('disagreements').offsetTop - 8)"
                                if width < 600 else "window.scrollTo(0, 0)")
            assert (await page.screenshot(tmp_path / name)).startswith(b"\x89PNG")
            if _shots():
                await page.screenshot(_shots() / name)


async def test_without_script_nothing_that_needs_it_shows(demo_page, tmp_path):
    html = demo_page.read_text(encoding="utf-8")
    start = html.index("<script>")
    path = tmp_path / "no-script.html"
    path.write_text(html[:start] + html[html.index("</script>", start) + len("</script>"):], encoding="utf-8")
    async with open_page(path.as_uri(), width=375) as page:
        assert await page.evaluate("getComputedStyle(document.getElementById('tools')).display") == "none"
        assert await page.evaluate("document.querySelectorAll('#standing-table tbody tr').length") == 300
        await _fits(page, 375, False)


@needs_axe
async def test_axe_finds_no_wcag_violation_on_the_page_light_or_dark(demo_page):
    async with open_page(demo_page.as_uri()) as page:
        for width in WIDTHS:
            for dark in (False, True):
                await page.view_as(width, dark=dark)
                assert await axe_violations(page) == [], f"at {width} px, {'dark' if dark else 'light'}"


#: the email chart's shown width over the width it was drawn at (its width attribute)
CHART_SCALE = ("(i => i.getBoundingClientRect().width / Number(i.getAttribute('width')))"
               "(document.querySelector('img.chart'))")
#: the smallest text the email's chart PNG draws, in the CSS px of its width attribute (``reports.charts.dot_png``)
EMAIL_CHART_LABEL_PX = 11


async def test_the_email_fits_any_width_from_320px(email_page, tmp_path):
    path, images = email_page
    async with open_page(path.as_uri(), width=700) as page:
        for width in EMAIL_WIDTHS:
            for dark in (False, True):
                await _fits(page, width, dark)
                main = await page.evaluate("document.querySelector('table.main').getBoundingClientRect().width")
                assert main <= 600, f"{main} px at {width}"
                assert main >= min(width, 600) - 2, f"{main} px at {width}: it should fill a narrow screen"
        await page.view_as(700)
        assert await page.evaluate("document.querySelector('table.main').getBoundingClientRect().width") == 600
        assert await page.evaluate("[...document.images].every(i => i.complete && i.naturalWidth > 0)")
        for width in (375, 700):  # the chart's smallest text (11 px drawn) stays at 10 px or more, never blown up
            await page.view_as(width)
            scale = await page.evaluate(CHART_SCALE)
            assert MIN_LABEL_PX / EMAIL_CHART_LABEL_PX <= scale <= 1, (width, scale)
        assert page.report.problems == []
        assert len(page.report.requests) == 1 + images
        for width, name in ((700, "report-email.png"), (375, "report-email-phone.png")):
            await page.view_as(width)
            height = int(await page.evaluate("document.documentElement.scrollHeight"))
            await page.screenshot(tmp_path / name, full_height=height)
            if _shots():
                await page.screenshot(_shots() / name, full_height=min(height, 3000))


@needs_axe
async def test_axe_finds_no_wcag_violation_in_the_email_light_or_dark(email_page):
    async with open_page(email_page[0].as_uri()) as page:
        for width in (375, 700):
            for dark in (False, True):
                await page.view_as(width, dark=dark)
                assert await axe_violations(page) == [], f"at {width} px, {'dark' if dark else 'light'}"


@needs_vnu
def test_the_nu_checker_finds_no_error_in_the_page_or_the_email(demo_page, email_page):
    assert nu_errors(demo_page, email_page[0]) == []


#: the smallest rendered size of any text in the visible dot-row chart, in CSS px: each label's font
#: size times the scale its SVG is drawn at
LABEL_PX = """(() => {
  const shown = [...document.querySelectorAll('#disagreements figure.chart')]
    .filter(f => getComputedStyle(f).display !== 'none' && f.querySelector('.track'));
  if (shown.length !== 1) return {charts: shown.length};
  const svg = shown[0].querySelector('svg');
  const scale = svg.getBoundingClientRect().width / svg.viewBox.baseVal.width;
  const sizes = [...svg.querySelectorAll('text')].map(t => parseFloat(getComputedStyle(t).fontSize) * scale);
  return {charts: 1, narrow: shown[0].classList.contains('narrow'), smallest: Math.min(...sizes),
          labels: svg.querySelectorAll('text.dot-label').length};
})()"""

#: the smallest label the dot rows may draw on any screen, in CSS px
MIN_LABEL_PX = 10


async def test_the_dot_chart_labels_are_readable_on_a_phone(demo_page):
    async with open_page(demo_page.as_uri(), width=375) as page:
        for width in (375, 768, 1280):
            await page.view_as(width)
            seen = await page.evaluate(LABEL_PX)
            assert seen["charts"] == 1, (width, seen)
            assert seen["narrow"] is (width < 640), (width, seen)
            assert seen["labels"] > 0
            assert seen["smallest"] >= MIN_LABEL_PX, (width, seen)
        assert page.report.problems == []


async def test_a_shortened_page_filters_its_rows_and_links_the_csv_beside_it(tmp_path):
    """Past the shortlist size: the filter works across the listed rows (top, bottom, disputed,
    movers), and the CSV link points at the file written beside the page."""
    import numpy as np

    from aggregator.models import IndexSpec, Scale, Subject
    from reports.standing_csv import write_report

    from .conftest import make_outcome

    rng = np.random.default_rng(11)
    n = 2_000
    specs = tuple(IndexSpec(name=f"index{j}", scale=Scale(lo=0, hi=100)) for j in range(4))
    subjects = tuple(Subject(id=f"s{i}", name=f"Person {i:04d}") for i in range(n))
    outcome = make_outcome(rng.uniform(0, 100, (n, 4)), subjects, specs, ())
    page_path = tmp_path / "report.html"
    write_report(outcome, page_path, "html")
    listed = build_view(outcome).standing
    async with open_page(page_path.as_uri(), width=375) as page:
        assert await page.evaluate(f"document.querySelectorAll('{ROWS}').length") == len(listed)
        link = await page.evaluate("document.querySelector('#standing a[download]').href")
        assert link == (tmp_path / "report.standing.csv").as_uri()
        assert (tmp_path / "report.standing.csv").is_file()
        bottom = listed[-1].name
        await page.evaluate(f"(() => {{ const q = document.getElementById('q'); q.value = {json.dumps(bottom)}; "
                            "q.dispatchEvent(new Event('input')); })()")
        await asyncio.sleep(0.4)  # the filter waits 120 ms for typing to pause
        shown = await page.evaluate(f"[...document.querySelectorAll('{ROWS}')].filter(r => !r.hidden)"
                                    ".map(r => r.cells[1].textContent.trim())")
        assert shown == [bottom]
        await _fits(page, 375, False)
        assert page.report.problems == []
