"""The ``email`` renderer: the report as a message people read in any mail client.

:func:`build_email` turns a view into the parts of one message:

- an HTML part laid out with tables, fluid from 320 to 600 px wide without media queries (every
  table narrow enough for a phone; Outlook for Windows gets a fixed 600 px table in a conditional
  comment), every style inlined by css-inline (only the dark-mode rules stay in a ``<style>``
  block), no scripts, SVG, web fonts, flex, grid, positioning, ``data:`` images or background
  images;
- a text/plain alternative carrying every name and figure the HTML shows;
- each mover's consensus over past runs as block characters (``▂▄·▇ 41→78``) in both parts,
  since mail clients strip SVG;
- the disputed subjects' dot rows as a PNG, attached inline by Content-ID, with alt text;
- the full web report as an attached file.

The HTML part stays at most :data:`MAX_HTML_BYTES` after inlining, whatever the roster: the
email carries the top of each section and says how many more are in the attachment. If a
long roster of names or many indices would still push it over, it shows fewer rows (and then
no per-index columns) until it fits. Gmail clips at about 102 KB, and inlining multiplies table
markup about 4.5 times, so the budget leaves room.

Inlining never fetches anything: remote stylesheets are off.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from reports.message import EmailParts, InlineImage
from reports.model import ReportView, SectionInfo
from reports.sections.changes import SPARK_GAP, MoverRow
from reports.sections.disagreements import Disagreement
from reports.sections.health import IndexView
from reports.sections.inversions import InversionRow
from reports.sections.standing import StandingRow, shortlist_note, standing_where
from reports.standing_csv import standing_csv_name

if TYPE_CHECKING:
    import css_inline

#: the HTML part's budget, UTF-8 bytes after inlining (Gmail clips at ~102 KB)
MAX_HTML_BYTES = 90_000
#: Gmail drops ``<style>`` beyond 16 KB in total
MAX_STYLE_BYTES = 16_000
#: how much of each section the email carries, from most to least; the first that fits wins
LEVELS: tuple[tuple[int, int, int], ...] = (
    # standing rows, disagreements, indices in the health table
    (10, 5, 12),
    (5, 3, 12),
    (3, 2, 8),
    (1, 1, 4),
    (0, 0, 2),
)
#: the attached page's cap (bytes) unless the caller gives one (``report.email_attachment_max_mb``); past
#: it the email attaches a shortened page (:mod:`reports.shortlist`) and says where the full one is
DEFAULT_MAX_ATTACHMENT_BYTES = 10_000_000
#: beyond this many indices the standing table shows consensus and spread, not every index
MAX_INDEX_COLUMNS = 6
TEMPLATE = "email.html.j2"
WIDTH = 78

# C0 controls other than tab and newline, DEL and C1: never in a message (some clip or
# mangle it); an outside string carrying one gets U+FFFD instead
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")


@dataclass(frozen=True)
class Digest:
    """The top of each section: what the email shows (the text part shows the same)."""

    subject: str
    attachment_name: str
    #: what the attachment is: the full report, or a shortened one and where the full one is
    attachment_note: str
    sections: tuple[SectionInfo, ...]
    disputes: tuple[str, ...]
    standing: tuple[StandingRow, ...]
    index_columns: bool
    disagreements: tuple[Disagreement, ...]
    indices: tuple[IndexView, ...]
    indices_more: int
    inversions: tuple[InversionRow, ...] = ()
    movers: tuple[MoverRow, ...] = ()
    #: whether the agreement matrix fits (few enough indices)
    matrix: bool = False
    #: what the attached page holds beyond what the email shows, one line per section (None: nothing);
    #: each promises only rows the attachment lists
    more: dict[str, str] = field(default_factory=dict)


def more_line(shown: int, listed: int, total: int, noun: str, order: str) -> str | None:
    """What lies beyond the ``shown`` rows: ``listed`` in the attached page, ``total`` in all.

    >>> more_line(3, 20, 2635, "pairs", "strongest")
    '…and 17 more pairs in the attached report, which lists the 20 strongest of all 2,635.'
    >>> more_line(20, 20, 2635, "pairs", "strongest")
    '2,635 in all; the attached report lists these 20, the strongest.'
    >>> more_line(5, 5, 5, "pairs", "strongest") is None
    True
    """
    if listed > shown:
        tail = f", which lists the {listed:,} {order} of all {total:,}" if total > listed else ""
        return f"…and {listed - shown:,} more {noun} in the attached report{tail}."
    if total > listed:
        return f"{total:,} in all; the attached report lists these {listed:,}, the {order}."
    return None


def _safe(text: str) -> str:
    return _CONTROL.sub("\ufffd", text)


def attachment_name(view: ReportView) -> str:
    stem = re.sub(r"[^A-Za-z0-9._-]+", "-", view.meta.run_id).strip("-.") or "run"
    return f"report-{stem[:80]}.html"


def digest(
    view: ReportView, level: tuple[int, int, int] = LEVELS[0], *, subject: str | None = None,
    attached: ReportView | None = None,
) -> Digest:
    """The top of each section for the email; ``attached`` is the view the attached page shows (``view``'s own)."""
    attached = attached or view
    rows, disputes, indices = level
    shown_disputes = view.disagreements[:disputes]
    inversions = min(max(disputes - 2, 1) if disputes else 0, len(view.inversions.rows) if view.inversions else 0)
    movers = min(disputes, len(view.changes.movers) if view.changes else 0)
    index_columns = len(view.indices) <= MAX_INDEX_COLUMNS and rows > 3
    return Digest(
        subject=subject or view.meta.title,
        attachment_name=attachment_name(view),
        attachment_note=(
            f"A shortened report is attached as {attachment_name(view)} (opens in any browser, offline). "
            f"{attached.meta.shortlist}" if attached.meta.shortlist else
            f"The full report, with every subject, is attached as {attachment_name(view)} (opens in any "
            "browser, offline)."
        ),
        sections=view.sections,
        disputes=view.headline.disputes if disputes else view.headline.disputes[:1],
        standing=view.standing[:rows],
        index_columns=index_columns,
        disagreements=shown_disputes,
        indices=view.indices[:indices],
        indices_more=max(len(view.indices) - indices, 0),
        inversions=view.inversions.rows[:inversions] if view.inversions else (),
        movers=view.changes.movers[:movers] if view.changes else (),
        matrix=view.agreement is not None and len(view.indices) <= MAX_INDEX_COLUMNS and rows > 0,
        more=_more_lines(attached, rows, len(shown_disputes), inversions, movers, index_columns=index_columns),
    )


def _more_lines(
    view: ReportView, rows: int, disputes: int, inversions: int, movers: int, *, index_columns: bool
) -> dict[str, str]:
    with_figures = "" if index_columns else ", with each index's figures"
    shown = min(rows, len(view.standing))
    lines = {
        "standing": more_line(shown, len(view.standing), len(view.standing), f"subjects{with_figures}", "highest")
        if view.meta.shortlist is None else
        f"…and {len(view.standing) - shown:,} more of the {view.meta.subjects:,} subjects in the attached report "
        "(the top and bottom, the most disputed and the biggest movers).",
        "disagreements": more_line(disputes, len(view.disagreements), view.flagged_total,
                                   "disputed subjects", "widest"),
    }
    if view.inversions is not None:
        lines["inversions"] = more_line(inversions, len(view.inversions.rows), view.inversions.total,
                                        "pairs", "strongest")
    if view.changes is not None:
        lines["changes"] = more_line(movers, len(view.changes.movers), view.changes.movers_total,
                                     "movers", "biggest")
    return {key: line for key, line in lines.items() if line is not None}


@cache
def _inliner() -> css_inline.CSSInliner:
    import css_inline

    # never fetch a stylesheet; keep the @media (dark mode) rules in a <style> block
    return css_inline.CSSInliner(load_remote_stylesheets=False, keep_at_rules=True, minify_css=True)


def chart_image(view: ReportView) -> InlineImage | None:
    from reports.charts import dot_chart, dot_png, dot_png_size

    chart = dot_chart(view)
    if chart is None:
        return None
    png = dot_png(chart)
    cid = f"dots-{hashlib.sha256(png).hexdigest()[:20]}@influence-aggregator"
    alt = f"Chart: {chart.title}. The table below has the same numbers."
    width, height = dot_png_size(chart)
    return InlineImage(cid=cid, png=png, width=width, height=height, alt=alt)


def render_html(view: ReportView, d: Digest, chart: InlineImage | None) -> str:
    """The HTML part for one digest, CSS inlined."""
    from reports.web import environment

    html = environment().get_template(TEMPLATE).render(view=view, d=d, chart=chart)
    return _safe(_inliner().inline(html))


def render_text(view: ReportView, d: Digest, chart: InlineImage | None) -> str:
    """The text/plain part: the same names and figures as the HTML, as readable lines."""
    import textwrap

    meta = view.meta
    out: list[str] = []

    def para(text: str, indent: str = "", first: str | None = None) -> None:
        out.extend(textwrap.wrap(
            text, WIDTH, initial_indent=first if first is not None else indent, subsequent_indent=indent,
            break_long_words=False, break_on_hyphens=False,
        ) or [""])

    def heading(text: str) -> None:
        out.extend(["", text, "-" * len(text)])

    out += [meta.title, "=" * min(len(meta.title), WIDTH)]
    labels = ", ".join(index.label for index in view.indices)
    erased = f"; history of {meta.forgotten:,} erased" if meta.forgotten else ""
    opted = f" ({meta.opted_out:,} opted out, not shown{erased})" if meta.opted_out else ""
    para(f"{meta.started_text} · {meta.subjects:,} subjects{opted} · {meta.indices} indices: {labels}")
    para(d.attachment_note)
    for n, section in enumerate(d.sections, start=1):
        heading(f"{n}. {section.title}")
        para(f"What this means: {section.meaning}")
        out.append("")
        if section.id == "headline":
            if view.headline.story:
                para(view.headline.story)
            para(view.headline.leaders)
            if view.headline.disputes:
                out.append("Most striking disagreements:")
                for k, sentence in enumerate(d.disputes, start=1):
                    para(sentence, "     ", f"  {k}. ")
            out.append("Index events:")
            for line in view.headline.events:
                para(line.text, "    ", "  ! " if line.tone == "problem" else "  - ")
        elif section.id == "standing":
            if d.standing:
                para(f"Top {len(d.standing)} of {meta.subjects:,} by consensus; each index's "
                     f"{meta.standing_label}, raw score in brackets; * marks the odd one out.")
                for r in d.standing:
                    rank = "-" if r.rank is None else str(r.rank)
                    consensus = "-" if r.consensus is None else str(r.consensus)
                    if d.index_columns:
                        cells = ", ".join(
                            f"{index.label} "
                            + ("-" if c.standing is None else f"{c.standing}" + (f" ({c.raw})" if c.raw else ""))
                            + (" *" if c.dissenter else "")
                            for index, c in zip(view.indices, r.cells, strict=True)
                        )
                        para(f"{r.name}: consensus {consensus}; {cells}", "      ", f"{rank:>4}. ")
                    else:
                        spread = "-" if r.spread is None else str(r.spread)
                        para(f"{r.name}: consensus {consensus}; spread {spread}", "      ", f"{rank:>4}. ")
                if "standing" in d.more:
                    para(d.more["standing"])
            else:
                para(f"All {meta.subjects:,} subjects are in the attached report.")
        elif section.id == "disagreements":
            if view.disagreements:
                para(f"{view.flagged_total:,} subject{'' if view.flagged_total == 1 else 's'} with standings "
                     f"more than {meta.threshold_text} points apart.")
                if chart is not None:
                    para(f"[{chart.alt}]")
                for x in d.disagreements:
                    para(f"{x.name}: spread {x.spread}. {x.sentence}", "    ", "  - ")
                    if x.explanation is not None:
                        para(x.explanation, "    ")
                if "disagreements" in d.more:
                    para(d.more["disagreements"])
            else:
                para(f"No subject's standings are more than {meta.threshold_text} points apart.")
        elif section.id == "inversions" and view.inversions is not None:
            para(view.inversions.summary)
            for inv in d.inversions:
                para(inv.sentence, "    ", "  - ")
            if "inversions" in d.more:
                para(d.more["inversions"])
        elif section.id == "agreement" and view.agreement is not None:
            for sentence in view.agreement.sentences:
                para(sentence)
            if d.matrix:
                para("Kendall's tau-b for each pair of indices (1: same order; 0: no relation; below 0: opposite):")
                outlier = view.agreement.outlier
                for i, row in enumerate(view.agreement.rows):
                    for other, c in list(zip(view.agreement.columns, row.cells, strict=True))[i + 1:]:
                        names = " and ".join(f"{name} (outlier)" if name == outlier else name
                                             for name in (row.index, other))
                        para(f"{names}: {'n/a' if c.kendall is None else f'{c.kendall:.2f}'}", "    ", "  - ")
        elif section.id == "people" and view.people is not None:
            for sentence in view.people.sentences:
                para(sentence)
            for person in view.people.rows:
                para(person.line, "    ", "  - ")
            para(view.people.note)
        elif section.id == "changes" and view.changes is not None:
            for shift in view.changes.indices:
                if shift.event:
                    para(shift.sentence)
            if d.movers:
                # past runs as a leading column of block characters, as in the text report
                sparks = [m.trend.compact if m.trend is not None else "" for m in d.movers]
                column = max(map(len, sparks))
                para("Biggest movers in consensus since the last run"
                     + (f", after their consensus over past runs (oldest first; {SPARK_GAP} not scored):"
                        if column else ":"))
                for m, spark in zip(d.movers, sparks, strict=True):
                    before = "-" if m.before is None else str(m.before)
                    after = "-" if m.after is None else str(m.after)
                    first = f"  - {spark.ljust(column)}  " if column else "  - "
                    para(f"{m.name}: {before} -> {after} ({m.change:+.1f})", " " * len(first), first)
                if "changes" in d.more:
                    para(d.more["changes"])
            else:
                para(f"Nobody's consensus moved by {view.changes.threshold_text} points or more.")
        elif section.id == "health":
            for index in d.indices:
                faults = "; ".join(f"{f.label}: {f.count:,}" for f in index.failures if f.fault) or "none"
                para(f"{index.label}: {index.status_text}; coverage {index.coverage_text}; faults: {faults}; "
                     f"retries {index.retries:,}"
                     + (f"; latency: {index.latency_text}" if index.latency_text else ""), "    ", "  - ")
            if d.indices_more:
                para(f"...and {d.indices_more:,} more indices in the attached report.")
        elif section.id == "method":
            para(view.method.paragraphs[0])
            para("What each index says it measures, and how its scale was read, is in the attached report.")
    out += ["", f"Run {meta.run_id} · generated by {meta.generated_by}."]
    return _safe("\n".join(out) + "\n")


def _csv_named_for_mail(view: ReportView, full_report: str | None) -> ReportView:
    """``view`` whose shortened standing says where the full one is in words a mail reader can follow.

    A page attached to a message has no folder beside it, so its note names the CSV's path beside
    ``full_report`` (or beside the report, by name) and it carries no link that would lead nowhere.
    """
    if view.meta.shortlist is None or (full_report is None and view.meta.standing_csv is None):
        return view
    total = view.meta.subjects
    if full_report is not None:
        where = standing_where(total, str(Path(full_report).with_name(standing_csv_name(full_report))), beside="")
    else:
        where = standing_where(total, view.meta.standing_csv, beside="the report")
    note = shortlist_note(len(view.standing), total, where)
    return view.model_copy(update={"meta": view.meta.model_copy(update={"shortlist": note, "standing_csv": None})})


def build_email(
    view: ReportView, *, subject: str | None = None, max_attachment_bytes: int = DEFAULT_MAX_ATTACHMENT_BYTES,
    full_report: str | None = None,
) -> EmailParts:
    """The parts of the report email: HTML within budget, text, chart, attachment.

    The attachment is the full web page unless it is over ``max_attachment_bytes``; then it is a
    shortened page (:func:`reports.shortlist.shortlist_view`) that says where the full one is
    (``full_report``, where the run wrote it, when the caller knows).
    """
    from reports.web import HtmlRenderer

    view = _csv_named_for_mail(view, full_report)
    page = HtmlRenderer().render(view).encode("utf-8")
    attached = view
    if len(page) > max_attachment_bytes:
        from reports.shortlist import shortlist_view

        where = f"at {full_report}" if full_report else "where this run wrote its report"
        attached = shortlist_view(view, (
            f"The full report ({len(page) / 1e6:.1f} MB) is over the {max_attachment_bytes / 1e6:g} MB this "
            f"email may carry; it is {where}."
        ))
        page = HtmlRenderer().render(attached).encode("utf-8")
    chart = chart_image(view) if view.disagreements else None
    for level in LEVELS:
        d = digest(view, level, subject=subject, attached=attached)
        html = render_html(view, d, chart)
        if len(html.encode("utf-8")) <= MAX_HTML_BYTES:
            break
    else:  # pragma: no cover - the last level holds only a few short lines per section
        raise ValueError(f"the email's HTML part is {len(html.encode()):,} bytes even at its shortest")
    return EmailParts(
        subject=_safe(d.subject),
        html=html,
        text=render_text(view, d, chart),
        images=(chart,) if chart is not None else (),
        attachment_name=d.attachment_name,
        attachment=page,
    )


class EmailRenderer:
    """Renders a :class:`~reports.model.ReportView` as a complete MIME message (no addressees).

    ``aggregator run --format email --out report.eml`` writes it; ``--eml FILE`` does the
    same with the configured sender and recipients.
    """

    name = "email"
    media_type = "message/rfc822"

    def render(self, view: ReportView) -> bytes:
        from reports.mail import compose

        return compose(build_email(view)).as_bytes()
