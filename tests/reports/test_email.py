"""The email: parts, size bound for any roster, what mail clients need, parity with the text part."""

from __future__ import annotations

import functools
import html as html_module
import re
from collections import Counter
from dataclasses import replace
from html.parser import HTMLParser

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aggregator.errors import DeliveryError
from aggregator.models import IndexSpec, Scale, Subject
from reports.email import MAX_HTML_BYTES, MAX_STYLE_BYTES, EmailRenderer, build_email, digest
from reports.mail import compose
from reports.model import build_view
from reports.sections.standing import SHORTLIST_PAST

from .conftest import make_outcome


class Html(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []
        self.row_headers: list[str] = []
        self._in_row_header = False
        self._skip = 0

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        self.tags.append((tag, attributes))
        if tag in {"style", "title"}:
            self._skip += 1
        if tag == "th" and attributes.get("scope") == "row":
            self._in_row_header = True
            self.row_headers.append("")

    def handle_endtag(self, tag):
        if tag in {"style", "title"}:
            self._skip -= 1
        if tag == "th":
            self._in_row_header = False

    def handle_data(self, data):
        if self._skip:
            return
        self.text.append(data)
        if self._in_row_header:
            self.row_headers[-1] += data


def parse(html: str) -> Html:
    parser = Html()
    parser.feed(html)
    parser.close()
    return parser


def big_outcome(n: int, k: int = 4, *, name_length: int = 12, seed: int = 3):
    rng = np.random.default_rng(seed)
    specs = tuple(IndexSpec(name=f"index{j}", scale=Scale(lo=0, hi=1000)) for j in range(k))
    raw = rng.uniform(0, 1000, (n, k)).round(2)
    raw[rng.random(raw.shape) < 0.1] = np.nan
    subjects = tuple(
        Subject(id=f"s{i}", name=(f"Person {i} " + "Ω" * name_length)[: max(name_length, 1)]) for i in range(n)
    )
    return make_outcome(raw, subjects, specs, ())


@pytest.fixture(scope="module")
def parts():
    return build_email(build_view(make_outcome()))


def test_html_part_is_a_fluid_table_layout_with_alt_text_and_scopes(parts):
    page = parse(parts.html)
    assert ("html", {"lang": "en", "dir": "ltr"}) in page.tags
    tables = [a for tag, a in page.tags if tag == "table"]
    layout = [a for a in tables if a.get("role") == "presentation"]
    data = [a for a in tables if a.get("role") != "presentation"]
    assert len(layout) == 2 and len(data) >= 3  # standing, disagreements, health (+ agreement)
    assert all(a.get("class") == "data" for a in data)
    # fluid: as wide as the screen up to 600 px (Outlook's own 600 px table is in a conditional comment)
    assert any(a.get("width") == "100%" and a.get("class") == "main" for a in layout)
    assert "<!--[if mso]><table role=\"presentation\" width=\"600\"" in parts.html
    assert all(a.get("scope") in {"col", "row"} for tag, a in page.tags if tag == "th")
    images = [a for tag, a in page.tags if tag == "img"]
    assert images and all(a.get("alt") for a in images)
    assert all(a["src"].startswith("cid:") for a in images)


def test_no_feature_mail_clients_drop(parts):
    html = parts.html.lower()
    for banned in ("<script", "<svg", "data:", "url(", "display:flex", "display:grid", "position:", "<link",
                   "@import", "@font-face", "javascript:", "<iframe", "<form", "background-image"):
        assert banned not in html, banned


def test_css_is_inlined_and_only_dark_mode_stays_in_style(parts):
    styles = re.findall(r"<style[^>]*>(.*?)</style>", parts.html, re.S)
    assert sum(len(s.encode()) for s in styles) <= MAX_STYLE_BYTES
    assert all(s.strip().startswith("@media (prefers-color-scheme:dark)") for s in styles)
    # inlined, classes kept for the dark-mode rules
    assert re.search(r'<table class="main"[^>]* style="width:100%;max-width:600px;', parts.html)


def test_still_reads_with_every_style_stripped(parts):
    bare = re.sub(r"<style[^>]*>.*?</style>", "", parts.html, flags=re.S)
    bare = re.sub(r'\sstyle="[^"]*"', "", bare)
    page = parse(bare)
    text = " ".join(page.text)
    for needle in ("Ada Lovelace", "87.5", "Dee Falcon", "80.0", "Index health", "What this means"):
        assert needle in text
    assert ("table", {"class": "main", "role": "presentation", "width": "100%", "cellpadding": "0",
                      "cellspacing": "0", "border": "0"}) in page.tags


def test_text_part_carries_every_name_and_figure_the_html_shows(parts):
    page = parse(parts.html)
    html_text = " ".join(page.text)
    plain = " ".join(parts.text.split())
    numbers = Counter(re.findall(r"\d[\d,.]*\d|\d", html_text))
    in_text = Counter(re.findall(r"\d[\d,.]*\d|\d", plain))
    assert numbers - in_text == Counter()
    for name in page.row_headers:
        assert " ".join(name.split()) in plain


def test_outside_text_is_escaped_and_control_characters_never_reach_the_message(build_outcome):
    outcome = build_outcome()
    subjects = tuple(
        s.model_copy(update={"name": "Ada\x07 Love\x85lace\u202e"}) if s.id == "ada" else s for s in outcome.subjects
    )
    parts = build_email(build_view(replace(outcome, subjects=subjects)))
    assert "<script>alert(1)</script>" not in parts.html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in parts.html
    for part in (parts.html, parts.text):
        assert not re.search("[\x00-\x08\x0b-\x1f\x7f-\x9f]", part)
    assert "Ada\ufffd Love\ufffdlace" in parts.text


@pytest.mark.parametrize(("n", "k", "name_length"), [
    (1, 2, 5), (50, 4, 12), (10_000, 5, 30), (2_000, 12, 500), (300, 40, 60),
])
def test_html_part_stays_within_budget_for_any_roster(n, k, name_length):
    view = build_view(big_outcome(n, k, name_length=name_length))
    parts = build_email(view)
    size = len(parts.html.encode("utf-8"))
    assert size <= MAX_HTML_BYTES, size
    page = parse(parts.html)
    text = " ".join(page.text)
    if n > 10:
        assert re.search(r"…and [\d,]+ more [^.]* in the attached report", text)
    assert parts.attachment.count(b"<tr") >= len(view.standing)  # every row the view lists is in the attachment
    # up to the shortlist size that is everyone; past it the attachment says where the rest are
    assert (len(view.standing) == n) == (n <= SHORTLIST_PAST)
    if n > SHORTLIST_PAST:
        assert f"The full standing of all {n:,} goes beside the report as a CSV file" in " ".join(parts.text.split())


def test_the_attachment_is_the_full_web_report(parts):
    assert parts.attachment_name == "report-run-2024-05-01.html"
    assert parts.attachment.startswith(b"<!doctype html>")
    assert b'id="standing-table"' in parts.attachment


def test_renderer_gives_a_complete_mime_message(outcome):
    from email import message_from_bytes
    from email.policy import default

    from reports.render import render

    document = render(outcome, "email")
    assert isinstance(document, bytes)
    message = message_from_bytes(document, policy=default)
    assert message["Subject"] == "Weekly influence report"
    assert [p.get_content_type() for p in message.walk()] == [
        "multipart/mixed", "multipart/alternative", "text/plain", "multipart/related", "text/html",
        "image/png", "text/html",
    ]
    assert (EmailRenderer.name, EmailRenderer.media_type) == ("email", "message/rfc822")


# --- header injection -------------------------------------------------------------------------

INJECTIONS = [
    "\r\nBcc: eve@evil.example", "\nBcc: eve@evil.example", "\rX-Evil: 1", "\x00",
    "=?utf-8?q?=0ABcc:_eve@evil.example?=",
    "\u2028Bcc: eve@evil.example", "\x85Bcc: x"]


@pytest.mark.parametrize("payload", INJECTIONS)
def test_crlf_in_any_header_field_is_refused_or_harmless(parts, payload):
    for field in ("subject", "sender", "recipient", "display name"):
        try:
            message = compose(
                parts,
                subject="Weekly" + payload if field == "subject" else None,
                sender=("ann@example.org" + payload) if field == "sender" else "ann@example.org",
                recipients=[
                    ("bob@example.org" + payload) if field == "recipient"
                    else (f'"Bob{payload}" <bob@example.org>' if field == "display name" else "bob@example.org")
                ],
            )
        except DeliveryError:
            continue
        _assert_exactly(message)


def _assert_exactly(message):
    from email import message_from_bytes
    from email.policy import SMTP, default

    parsed = message_from_bytes(message.as_bytes(policy=SMTP), policy=default)
    assert sorted(k.lower() for k in parsed) == ["content-type", "date", "from", "mime-version", "subject", "to"]
    assert [a.addr_spec for a in parsed["To"].addresses] == ["bob@example.org"]
    assert [a.addr_spec for a in parsed["From"].addresses] == ["ann@example.org"]
    # decoded values stay one line: no encoded newline survives into a header
    assert all("\n" not in str(v) and "\r" not in str(v) for v in parsed.values())


@functools.cache
def _small_parts():
    return build_email(build_view(make_outcome()))


@settings(max_examples=150, deadline=None)
@given(
    subject=st.text(alphabet=st.sampled_from(list("ab :=?\r\n\t\x00\x0b\x85\u2028<>@,\"'Bc")), max_size=40),
    name=st.text(alphabet=st.sampled_from(list("ab :=?\r\n\x00\u2028<>@,\"'Bc")), max_size=20),
)
def test_fuzzed_subjects_and_names_never_add_a_header_or_recipient(subject, name):
    try:
        message = compose(_small_parts(), subject=subject or None, sender="ann@example.org",
                          recipients=[f"{name} <bob@example.org>"])
    except DeliveryError:
        return
    _assert_exactly(message)


def _attached_rows(attachment: bytes, table: str) -> int:
    """Rows of one table of the attached page (group headings aside)."""
    html = attachment.decode("utf-8")
    start = html.index(f'id="{table}"')
    body = html[start:html.index("</table>", start)]
    return body.count("<tr") - body.count('<tr class="group"') - 1  # less the header row


@pytest.mark.parametrize(("n", "k", "cap"), [(300, 5, None), (2_000, 4, None), (2_000, 4, 300_000)])
def test_every_more_in_the_attachment_promise_holds(n, k, cap):
    """Each "…and N more" line counts rows the attached page really lists, and "lists the M" is M rows
    (also when the page is over the cap and the email attaches a shortened one)."""
    from reports.shortlist import shortlist_view

    view = build_view(big_outcome(n, k))
    parts = build_email(view, **({"max_attachment_bytes": cap} if cap else {}))
    tables = {"standing": "standing-table", "disagreements": "disagreements-table",
              "inversions": "inversions-table", "changes": "movers-table"}
    d = digest(view, attached=shortlist_view(view, "") if cap else None)
    shown = {"standing": len(d.standing), "disagreements": len(d.disagreements),
             "inversions": len(d.inversions), "changes": len(d.movers)}
    assert d.more  # this roster has more than the email shows
    for section, line in d.more.items():
        listed = _attached_rows(parts.attachment, tables[section])
        assert line in " ".join(parts.text.split()) and html_module.escape(line, quote=False) in parts.html
        more = re.match(r"…and ([\d,]+) more", line)
        if more:
            assert shown[section] + int(more.group(1).replace(",", "")) == listed, line
        lists = re.search(r"lists (?:the|these) ([\d,]+)", line)
        if lists:
            assert int(lists.group(1).replace(",", "")) == listed, line


def test_the_attached_page_says_it_is_utf8_so_accented_names_survive(build_outcome):
    from email import message_from_bytes
    from email.policy import default

    outcome = build_outcome()
    subjects = tuple(s.model_copy(update={"name": "Zoë Ångström"}) if s.id == "ada" else s for s in outcome.subjects)
    message = message_from_bytes(EmailRenderer().render(build_view(replace(outcome, subjects=subjects))),
                                 policy=default)
    attached = next(p for p in message.walk() if p.get_filename() == "report-run-2024-05-01.html")
    assert attached["Content-Type"].content_type == "text/html"
    assert attached.get_content_charset() == "utf-8"
    assert "Zoë Ångström" in attached.get_payload(decode=True).decode(attached.get_content_charset())


def test_a_page_over_the_cap_is_attached_shortened_and_the_email_says_where_the_full_one_is():
    view = build_view(big_outcome(SHORTLIST_PAST, 5, name_length=400))
    full = build_email(view)
    assert len(full.attachment) > 500_000
    capped = build_email(view, max_attachment_bytes=500_000, full_report="/srv/reports/report.html")
    assert len(capped.attachment) <= 500_000
    page = capped.attachment.decode("utf-8")
    assert page.count("<tr") < view.meta.subjects
    top, bottom = view.standing[0], view.standing[-1]
    assert top.name in page and bottom.name in page
    assert all(d.name in page for d in view.disagreements)
    for part in (" ".join(capped.text.split()), capped.html):
        assert "A shortened report is attached" in part
        assert "is over the 0.5 MB this email may carry; it is at /srv/reports/report.html." in part
    assert "This copy lists" in page and f"of the {SHORTLIST_PAST:,} subjects" in page


def test_past_the_shortlist_size_the_email_names_the_csv_beside_the_report_and_links_nothing_dead():
    n = SHORTLIST_PAST * 4
    view = build_view(big_outcome(n, 4), standing_csv="report.standing.csv")
    parts = build_email(view, full_report="/srv/reports/report.html")
    page = parts.attachment.decode("utf-8")
    where = f"The full standing of all {n:,} is in the CSV file /srv/reports/report.standing.csv."
    for part in (" ".join(parts.text.split()), parts.html, page):
        assert where in html_module.unescape(part)
    # the attached page has no folder beside it: no relative link to the CSV
    assert 'href="report.standing.csv"' not in page
    # the email promises the rows the attachment holds, no more
    shown = re.search(r"…and ([\d,]+) more of the ([\d,]+) subjects in the attached report", parts.text)
    assert shown is not None and shown.group(2) == f"{n:,}"
    listed = page[page.index('<table id="standing-table">'):].split("</table>")[0].count("<tr") - 1
    top = re.search(rf"Top (\d+) of {n:,} by consensus", parts.text)
    assert top is not None and int(top.group(1)) + int(shown.group(1).replace(",", "")) == listed
