"""Explanations: the points each component adds to a subject's score, and why one outranks another.

Points are never negative and add up to the score (see ``model.py`` for the one common factor
that turns strengths into points). Between two subjects, the per-component differences of
points add up to the difference of their scores, so "why A ranks above B" names the
components that make up that gap.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from aggregator.scoring.features import COMPONENT_NAMES, COMPONENTS, FloatArray
from aggregator.scoring.model import ScorerModel

_LABEL = {c.name: c.label for c in COMPONENTS}


@dataclass(frozen=True)
class Explanation:
    """One subject's score and the points each component contributes (they sum to the score)."""

    subject_id: str
    score: float
    points: Mapping[str, float]

    def summary(self, digits: int = 1) -> str:
        """``"62.4 = reach 21.0 + recognition 15.2 + ..."``, largest part first."""
        parts = sorted(self.points.items(), key=lambda kv: -kv[1])
        body = " + ".join(f"{_LABEL[name].lower()} {value:.{digits}f}" for name, value in parts)
        return f"{self.score:.{digits}f} = {body}"


def explain(model: ScorerModel, subject_ids: Sequence[str], features: FloatArray,
            network: FloatArray | None = None) -> list[Explanation]:
    """Explanations for many subjects at once (``features`` is ``[subjects x FEATURES]``)."""
    scores, points = model.points(features, network)
    return [
        Explanation(subject_id=sid, score=float(scores[i]),
                    points={name: float(points[i, k]) for k, name in enumerate(COMPONENT_NAMES)})
        for i, sid in enumerate(subject_ids)
    ]


def why(first: Explanation, second: Explanation, *, digits: int = 1) -> str:
    """One line: why the higher-scoring of two subjects ranks above the other.

    >>> a = Explanation("ann", 70.0, {"reach": 40.0, "amplification": 10.0, "network": 20.0})
    >>> b = Explanation("bob", 55.0, {"reach": 20.0, "amplification": 25.0, "network": 10.0})
    >>> why(a, b)
    'ann ranks above bob (70.0 vs 55.0): more reach (+20.0) and network (+10.0), partly offset by amplification (-15.0)'
    """
    high, low = (first, second) if first.score >= second.score else (second, first)
    gaps = {name: high.points.get(name, 0.0) - low.points.get(name, 0.0) for name in COMPONENT_NAMES}
    threshold = 0.05 * 10 ** -(digits - 1) if digits > 0 else 0.5
    ahead = sorted(((v, n) for n, v in gaps.items() if v >= threshold), reverse=True)
    behind = sorted((v, n) for n, v in gaps.items() if v <= -threshold)
    head = f"{high.subject_id} ranks above {low.subject_id} ({high.score:.{digits}f} vs {low.score:.{digits}f})"
    if high.score == low.score:
        head = f"{high.subject_id} and {low.subject_id} score the same ({high.score:.{digits}f})"
    if not ahead and not behind:
        return head + ": no component differs"
    text = head + ":"
    if ahead:
        named = [f"{_LABEL[n].lower()} (+{v:.{digits}f})" for v, n in ahead[:2]]
        text += " more " + " and ".join(named)
    if behind:
        named = [f"{_LABEL[n].lower()} ({v:.{digits}f})" for v, n in behind[:2]]
        text += (", partly offset by " if ahead else f" {low.subject_id} leads on ") + " and ".join(named)
    return text


__all__ = ["Explanation", "explain", "why"]
