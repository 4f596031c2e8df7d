"""The disputed subjects at a glance: one row per subject, each index's standing a labelled dot on a
0-100 line; and the spread of every subject on the roster as a histogram, the disputed bar marked.

Geometry only, from the view-model (the web template draws it as SVG and never computes);
:func:`dot_png` draws the dot rows as a PNG for the email. Each dot carries its index's name,
so colour is never the only way to tell indices apart; the disagreements table holds the same
numbers.
"""

from __future__ import annotations

import io
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

from reports.model import ReportView
from reports.sections.disagreements import Disagreement

#: Okabe & Ito (2008), "Color Universal Design", minus yellow (too light on white): distinct with the
#: common colour-vision deficiencies.
PALETTE = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#7F7F7F")
#: How many disputed subjects the dot rows show (the table lists more).
DOT_SUBJECTS = 10
_WIDTH, _ROW, _TOP, _LEFT, _RIGHT = 720, 40, 30, 170, 20
#: the phone layout: a 360-wide chart (drawn near its own size on a 375 px screen, so its labels keep
#: their size), each subject's name on a line of its own above its track
_N_WIDTH, _N_ROW, _N_SIDE, _N_NAME, _N_TRACK = 360, 64, 14, 15, 40
#: CSS pixels per inch of the email's PNG (matplotlib sizes fonts in points and figures in inches)
_CSS_DPI = 100
_NAME_CHARS = 24
_HIST_HEIGHT = 150


@dataclass(frozen=True)
class IndexDot:
    x: float
    label: str
    standing: int
    #: palette slot (CSS class ``c{n}``), the index's position
    colour: int
    dissenter: bool
    #: the label above (-) or below (+) the line, on the side where it clears its neighbours
    label_dy: float
    #: a diamond around the dot (SVG path) when this index is the odd one out
    mark: str | None = None
    #: the label's centre: the dot's x, or slid right to clear a neighbour's label (None: the dot's x)
    label_x: float | None = None


@dataclass(frozen=True)
class DotRow:
    name: str
    #: the track's y
    y: float
    dots: tuple[IndexDot, ...]
    #: the name's baseline in the phone layout (above the track); the wide one puts it beside the track
    name_y: float | None = None


@dataclass(frozen=True)
class DotLayout:
    """The dot rows drawn at one width: the wide chart, or the phone's."""

    width: int
    height: int
    left: float
    right: float
    top: float
    #: x of 0, 25, 50, 75 and 100, with their labels
    ticks: tuple[tuple[float, str], ...]
    rows: tuple[DotRow, ...]


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    count: int
    #: "45-50"
    span: str


@dataclass(frozen=True)
class DotChart(DotLayout):
    """The wide dot rows (its own layout), their words, the phone's layout and the spread histogram."""

    title: str
    description: str
    #: the spreads of the whole roster
    hist_height: int
    bars: tuple[Bar, ...]
    threshold_x: float
    threshold_text: str
    hist_title: str
    hist_description: str
    #: the same rows for a phone: names above the tracks, the full width for the 0-100 line
    narrow: DotLayout | None = None


def _diamond(x: float, y: float, r: float) -> str:
    return f"M{x:g},{y - r:g} L{x + r:g},{y:g} L{x:g},{y + r:g} L{x - r:g},{y:g} Z"


def _short(name: str) -> str:
    name = " ".join(name.split())
    return name if len(name) <= _NAME_CHARS else name[: _NAME_CHARS - 1] + "…"


def _x(value: float, left: float, right: float) -> float:
    return round(left + value / 100.0 * (right - left), 1)


def _label_places(xs: Sequence[float], labels: Sequence[str], char_width: float,
                  width: float) -> list[tuple[float, float]]:
    """Each label's centre x and offset from its track, above (-9) or below (+17), left to right:
    above where it clears the last label above, else below where it clears the last one there,
    else on the side whose last label ends first, slid right until it clears it (kept inside
    ``width``). Strict alternation let close neighbours' names overprint."""
    ends = {-9.0: float("-inf"), 17.0: float("-inf")}
    places = []
    for x, label in zip(xs, labels, strict=True):
        half = len(label) * char_width / 2
        free = [side for side, end in ends.items() if end + 3 <= x - half]
        side = free[0] if free else min(ends, key=lambda s: ends[s])
        centre = round(min(max(x, ends[side] + 3 + half), width - half), 1)
        ends[side] = centre + half
        places.append((centre, side))
    return places


def _dot_row(d: Disagreement, y: float, left: float, right: float, *, char_width: float, width: float,
             name_y: float | None = None) -> DotRow:
    """One subject's track at ``y``: each index's standing a dot, its label placed to clear its neighbours'."""
    known = sorted(((j, s.standing, s) for j, s in enumerate(d.standings) if s.standing is not None),
                   key=lambda item: (item[1], item[0]))
    xs = [_x(value, left, right) for _, value, _ in known]
    places = _label_places(xs, [s.index for _, _, s in known], char_width, width)
    dots = tuple(
        IndexDot(x=x, label=s.index, standing=value, colour=j % len(PALETTE), dissenter=s.dissenter,
                 label_dy=side, label_x=centre, mark=_diamond(x, y, 7.0) if s.dissenter else None)
        for (j, value, s), x, (centre, side) in zip(known, xs, places, strict=True)
    )
    return DotRow(name=_short(d.name), y=y, dots=dots, name_y=name_y)


def _narrow(disputes: Sequence[Disagreement]) -> DotLayout:
    left, right, top = _N_SIDE, _N_WIDTH - _N_SIDE, 24
    rows = tuple(
        _dot_row(d, top + n * _N_ROW + _N_TRACK, left, right, char_width=6.8, width=_N_WIDTH,
                 name_y=top + n * _N_ROW + _N_NAME)
        for n, d in enumerate(disputes)
    )
    return DotLayout(
        width=_N_WIDTH, height=int(top + len(rows) * _N_ROW + 4), left=left, right=right, top=top,
        ticks=tuple((_x(v, left, right), str(v)) for v in (0, 25, 50, 75, 100)), rows=rows,
    )


def dot_chart(view: ReportView) -> DotChart | None:
    """The dot rows of the most disputed subjects and the roster's spread histogram, or None."""
    disputes = view.disagreements[:DOT_SUBJECTS]
    if len(view.indices) < 2 or not disputes:
        return None
    right = _WIDTH - _RIGHT

    def x_of(value: float) -> float:
        return _x(value, _LEFT, right)

    rows = [_dot_row(d, _TOP + n * _ROW + _ROW / 2, _LEFT, right, char_width=5.8, width=_WIDTH)
            for n, d in enumerate(disputes)]
    width = (right - _LEFT) / len(view.spread_bins)
    counts = view.spread_bins
    peak = max(counts, default=0) or 1
    plot = _HIST_HEIGHT - 40
    bars = tuple(
        Bar(x=round(_LEFT + b * width + 1, 1), y=round(10 + plot * (1 - c / peak), 1), width=round(width - 2, 1),
            height=round(plot * c / peak, 1), count=c, span=f"{b * 5}-{b * 5 + 5}")
        for b, c in enumerate(counts)
    )
    unit = view.meta.standing_label
    words = "; ".join(
        f"{d.name}: " + ", ".join(f"{s.index} {'-' if s.standing is None else s.standing}" for s in d.standings)
        + (f" (odd one out: {d.dissenter})" if d.dissenter else "") for d in disputes
    )
    flagged = view.flagged_total
    return DotChart(
        width=_WIDTH, height=int(_TOP + len(rows) * _ROW + 6), left=_LEFT, right=right, top=_TOP,
        ticks=tuple((x_of(v), str(v)) for v in (0, 25, 50, 75, 100)), rows=tuple(rows),
        title=f"The {len(rows)} most disputed subjects: each index's {unit} on a 0-100 line",
        description=f"Each row is one subject; each dot one index's {unit}, labelled with its name. {words}.",
        hist_height=_HIST_HEIGHT, bars=bars, threshold_x=x_of(min(view.meta.threshold, 100.0)),
        threshold_text=f"disputed above {view.meta.threshold_text}",
        hist_title=f"Spread of every subject's standings ({sum(counts):,} subjects)",
        narrow=_narrow(disputes),
        hist_description=(
            f"How many subjects have each spread, in bins of 5 points; {flagged:,} are above "
            f"{view.meta.threshold_text} points and disputed. "
            + ", ".join(f"{bar.span}: {bar.count}" for bar in bars if bar.count) + "."
        ),
    )


def dot_png(chart: DotChart, *, scale: int = 2) -> bytes:
    """The dot rows as a PNG for the email, ``scale`` times its CSS size; stable bytes for the same chart.

    It draws the phone's layout (names above the tracks, the 0-100 line across the width), in
    the web page's CSS pixels and font sizes: shown at its own width or a little narrower (a
    phone's column), the names stay at 12 px and more and the index labels at 10 px and more.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    layout = chart.narrow or chart
    px = 72 / _CSS_DPI  # points per CSS pixel: the figure is drawn at _CSS_DPI CSS pixels an inch
    figure = Figure(figsize=(layout.width / _CSS_DPI, layout.height / _CSS_DPI), dpi=_CSS_DPI * scale,
                    facecolor="#ffffff")
    FigureCanvasAgg(figure)
    axes = figure.add_axes((0.0, 0.0, 1.0, 1.0))
    axes.set_xlim(0, layout.width)
    axes.set_ylim(layout.height, 0)  # y down, as in the SVG
    axes.axis("off")
    ink, muted, line = "#1f2328", "#59636e", "#d1d9e0"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # names in scripts the bundled font lacks draw as boxes
        for x, label in layout.ticks:
            axes.plot([x, x], [layout.top - 4, layout.height], color=line, linewidth=px, linestyle=(0, (2, 3)))
            axes.text(x, layout.top - 10, label, ha="center", va="baseline", fontsize=11 * px, color=muted)
        for row in layout.rows:
            if row.name_y is None:
                axes.text(layout.left - 10, row.y, row.name, ha="right", va="center", fontsize=12 * px, color=ink,
                          parse_math=False)
            else:
                axes.text(layout.left, row.name_y, row.name, ha="left", va="baseline", fontsize=13 * px,
                          fontweight="semibold", color=ink, parse_math=False)
            axes.plot([layout.left, layout.right], [row.y, row.y], color=line, linewidth=2 * px, zorder=1)
            for dot in row.dots:
                colour = PALETTE[dot.colour]
                axes.plot([dot.x], [row.y], marker="o", markersize=10 * px, color=colour, markeredgewidth=0, zorder=3)
                if dot.dissenter:  # the SVG's diamond around the odd one out
                    x, y, r = dot.x, row.y, 7.0
                    axes.plot([x, x + r, x, x - r, x], [y - r, y, y + r, y, y - r], color=ink, linewidth=1.5 * px,
                              zorder=4)
                axes.text(dot.x if dot.label_x is None else dot.label_x, row.y + dot.label_dy, dot.label, ha="center",
                          va="baseline", fontsize=11 * px, color=ink, parse_math=False)
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png", dpi=_CSS_DPI * scale, facecolor="#ffffff", metadata={"Software": None},
                       pil_kwargs={"optimize": True})
    return buffer.getvalue()


def dot_png_size(chart: DotChart) -> tuple[int, int]:
    """The CSS width and height :func:`dot_png` draws ``chart`` at."""
    layout = chart.narrow or chart
    return layout.width, layout.height
