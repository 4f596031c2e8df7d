"""Charts: geometry for the web page's inline SVG, and PNG images for the email.

The charts are computed from the view-model only, so they say nothing the tables do not: each
has a text equivalent in the report (the disagreements table holds the slope chart's numbers).

- :func:`slope_chart` lays out a rank-slope chart of the most disputed subjects: one column per
  index, one line per subject joining their standings (0-100), the odd one out marked. The web
  template draws it as SVG from these coordinates; it never computes.
- :func:`slope_png` draws the same chart as a PNG for the email (mail clients show no SVG).
  matplotlib is imported here, inside the function, and only through its object API (no
  pyplot, no global state), so nothing else pays for it.

Colours are the Okabe-Ito palette, which stays distinct with the common colour-vision
deficiencies; every line is also labelled with its subject's name, so colour is never the only
way to tell lines apart.
"""

from __future__ import annotations

import io
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

from reports.model import ReportView
from reports.sections.disagreements import Disagreement

#: Okabe & Ito (2008), "Color Universal Design", minus yellow (too light on white).
PALETTE = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#7F7F7F")
#: How many subjects the slope chart draws (more lines stop being readable).
SLOPE_SUBJECTS = 7

_WIDTH, _HEIGHT = 720, 300
_LEFT, _RIGHT, _TOP, _BOTTOM = 44, 200, 34, 16
_LABEL_GAP = 15.0
_NAME_CHARS = 28


@dataclass(frozen=True)
class Dot:
    x: float
    y: float
    standing: int
    dissenter: bool
    #: a diamond around the dot (SVG path) when this index is the odd one out
    mark: str | None = None


@dataclass(frozen=True)
class SlopeLine:
    name: str
    #: "x,y x,y ..." for an SVG polyline (only the indices that scored the subject)
    points: str
    dots: tuple[Dot, ...]
    #: where the name label goes, pushed apart so labels never overlap, and the leader line's
    #: path from the line's last dot to it
    label_x: float
    label_y: float
    leader: str
    #: palette slot (CSS class ``c{n}`` on the web page)
    colour: int
    #: standings per index, aligned with :attr:`SlopeChart.columns` (for the PNG)
    values: tuple[int | None, ...]


@dataclass(frozen=True)
class Column:
    label: str
    x: float


@dataclass(frozen=True)
class GridLine:
    y: float
    label: str


@dataclass(frozen=True)
class SlopeChart:
    width: int
    height: int
    left: float
    right: float
    top: float
    bottom: float
    #: where the column labels and the 0-100 axis labels go
    column_label_y: float
    axis_label_x: float
    columns: tuple[Column, ...]
    grid: tuple[GridLine, ...]
    lines: tuple[SlopeLine, ...]
    title: str
    #: the chart in words, for screen readers and as the PNG's alt text
    description: str


def _short(name: str) -> str:
    name = " ".join(name.split())
    return name if len(name) <= _NAME_CHARS else name[: _NAME_CHARS - 1] + "…"


def _diamond(x: float, y: float, r: float = 8.0) -> str:
    return f"M{x:g},{y - r:g} L{x + r:g},{y:g} L{x:g},{y + r:g} L{x - r:g},{y:g} Z"


def _spread_labels(wanted: Sequence[float], lo: float, hi: float) -> list[float]:
    """Label positions as close to ``wanted`` as possible, at least ``_LABEL_GAP`` apart."""
    order = sorted(range(len(wanted)), key=lambda n: wanted[n])
    placed = [0.0] * len(wanted)
    floor = lo
    for n in order:
        placed[n] = max(wanted[n], floor)
        floor = placed[n] + _LABEL_GAP
    overflow = (placed[order[-1]] - hi) if order else 0.0
    if overflow > 0:  # pushed past the bottom: shift everything up, keeping the gaps
        for n in order:
            placed[n] -= overflow
    return placed


def slope_chart(view: ReportView, disputes: Sequence[Disagreement] | None = None) -> SlopeChart | None:
    """The rank-slope chart of the most disputed subjects, or None with too little to draw."""
    disputes = list(disputes if disputes is not None else view.disagreements)[:SLOPE_SUBJECTS]
    labels = [index.label for index in view.indices]
    if len(labels) < 2 or not disputes:
        return None
    plot_w = _WIDTH - _LEFT - _RIGHT
    plot_h = _HEIGHT - _TOP - _BOTTOM
    xs = [_LEFT + j * plot_w / (len(labels) - 1) for j in range(len(labels))]

    def y_of(standing: float) -> float:
        return round(_TOP + (100.0 - standing) / 100.0 * plot_h, 1)

    raw_lines = []
    for d in disputes:
        dots = tuple(
            Dot(x=round(xs[j], 1), y=y_of(s.standing), standing=s.standing, dissenter=s.dissenter,
                mark=_diamond(round(xs[j], 1), y_of(s.standing)) if s.dissenter else None)
            for j, s in enumerate(d.standings)
            if s.standing is not None
        )
        raw_lines.append((d, dots))
    label_ys = _spread_labels(
        [dots[-1].y if dots else _TOP for _, dots in raw_lines], _TOP, _HEIGHT - _BOTTOM
    )
    label_x = round(xs[-1] + 30, 1)
    lines = tuple(
        SlopeLine(
            name=_short(d.name),
            points=" ".join(f"{dot.x:g},{dot.y:g}" for dot in dots),
            dots=dots,
            label_x=label_x,
            label_y=round(label_ys[n] + 4, 1),
            leader=f"M{dots[-1].x + 5:g},{dots[-1].y:g} L{label_x - 4:g},{round(label_ys[n], 1):g}",
            colour=n % len(PALETTE),
            values=tuple(s.standing for s in d.standings),
        )
        for n, (d, dots) in enumerate(raw_lines)
    )
    unit = view.meta.standing_label
    words = "; ".join(
        f"{d.name}: "
        + ", ".join(f"{s.index} {'-' if s.standing is None else s.standing}" for s in d.standings)
        + (f" (odd one out: {d.dissenter})" if d.dissenter else "")
        for d in disputes
    )
    return SlopeChart(
        width=_WIDTH, height=_HEIGHT, left=_LEFT, right=_WIDTH - _RIGHT, top=_TOP, bottom=_HEIGHT - _BOTTOM,
        column_label_y=_TOP - 16, axis_label_x=_LEFT - 10,
        columns=tuple(Column(label=label, x=round(x, 1)) for label, x in zip(labels, xs, strict=True)),
        grid=tuple(GridLine(y=y_of(v), label=str(v)) for v in (0, 25, 50, 75, 100)),
        lines=lines,
        title=f"The {len(disputes)} most disputed subjects: their {unit} under each index",
        description=f"Standing (0-100) of each subject under each index. {words}.",
    )


def slope_png(chart: SlopeChart, *, scale: int = 2) -> bytes:
    """The slope chart as a PNG, ``scale`` times its CSS size (sharp on high-density screens).

    White background, dark text and lines that keep their contrast when a mail client inverts
    colours for dark mode. The output is byte-for-byte stable for the same chart.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    dpi = 100 * scale
    # a little narrower than the web chart: the email body is 600 px wide
    width_px, height_px = 600, 280
    figure = Figure(figsize=(width_px / 100, height_px / 100), dpi=dpi, facecolor="#ffffff")
    FigureCanvasAgg(figure)
    axes = figure.add_axes((0.07, 0.08, 0.62, 0.80))
    columns = list(range(len(chart.columns)))
    with warnings.catch_warnings():
        # names in scripts the bundled font lacks draw as boxes; that is no reason to fail
        warnings.simplefilter("ignore")
        for line in chart.lines:
            known = [(j, v) for j, v in zip(columns, line.values, strict=True) if v is not None]
            colour = PALETTE[line.colour]
            axes.plot([j for j, _ in known], [v for _, v in known], color=colour, linewidth=2, marker="o",
                      markersize=4, solid_capstyle="round")
            for dot_j, dot in zip([j for j, _ in known], line.dots, strict=True):
                if dot.dissenter:
                    axes.plot([dot_j], [dot.standing], marker="D", markersize=9, markerfacecolor="none",
                              markeredgecolor="#1f2328", markeredgewidth=1.5)
        # labels at the right, spaced as on the web chart, each joined to its line's last dot
        span = chart.bottom - chart.top
        for line in chart.lines:
            standing = 100.0 - (line.label_y - 4 - chart.top) / span * 100.0
            last = max(j for j, v in zip(columns, line.values, strict=True) if v is not None)
            axes.annotate(
                line.name, xy=(last, line.values[last]), xytext=(columns[-1] + 0.3, standing),
                textcoords="data", va="center", fontsize=8, color="#1f2328", annotation_clip=False,
                parse_math=False,
                arrowprops={"arrowstyle": "-", "color": PALETTE[line.colour], "linewidth": 0.9,
                            "linestyle": (0, (2, 2)), "shrinkA": 2, "shrinkB": 4},
            )
        axes.set_xticks(columns, [c.label for c in chart.columns], fontsize=8, color="#1f2328", parse_math=False)
        axes.xaxis.tick_top()
        axes.set_yticks([0, 25, 50, 75, 100])
        axes.tick_params(axis="y", labelsize=8, colors="#59636e")
        axes.set_ylim(-3, 103)
        axes.set_xlim(-0.15, columns[-1] + 0.15)
        axes.grid(axis="y", color="#d1d9e0", linewidth=0.8)
        for side in ("right", "bottom", "left", "top"):
            axes.spines[side].set_visible(False)
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png", dpi=dpi, facecolor="#ffffff", metadata={"Software": None},
                       pil_kwargs={"optimize": True})
    return buffer.getvalue()
