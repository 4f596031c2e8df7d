"""Method: how scores on different scales were made comparable, in three paragraphs (the index
descriptions beside them come from each :class:`~reports.sections.health.IndexView`).
"""

from __future__ import annotations

from reports.sections._common import View


class MethodView(View):
    name: str
    title: str
    paragraphs: tuple[str, ...]


def method_view(method: str, threshold: str, rule: str = "fixed") -> MethodView:
    if method == "percentile":
        title = "Relative standing (percentiles)"
        how = (
            "Every index uses its own scale, and vendors move their scales when they change "
            "their algorithms, so raw scores cannot be compared with each other or over time. "
            "This report shows relative standing instead: for each index, a subject's "
            "percentile says where they stand among the subjects that index scored, from 0 "
            "(lowest) to 100 (highest); ties share the middle place. The 90th percentile means "
            "ahead of about 90% of this group on that index. Where a lower score is better, "
            "the order is flipped, so 100 always means most influential. A vendor "
            "recalibrating its whole scale does not move anyone's percentile."
        )
    elif method == "range":
        title = "Documented scales mapped to 0-100"
        how = (
            "Each index's documented scale is mapped straight onto 0-100: the bottom of the "
            "scale becomes 0 and the top 100. An index with no upper limit (a follower count, a "
            "share price) is put on a logarithmic 0-100 range across this group instead: the "
            "lowest scored subject is 0, the highest 100, and each doubling counts the same. "
            "Where a lower score is better, the scale is flipped, so 100 always means most "
            "influential. Unlike percentiles, these numbers move when a vendor recalibrates "
            "its scale."
        )
    else:
        title = f"Method {method!r}"
        how = (
            f"Scores were brought to a common 0-100 scale with the {method!r} method, where "
            "100 always means most influential."
        )
    consensus = (
        "Consensus is the middle value (median) of a subject's standings across the indices "
        "that scored them, so one odd index cannot drag it far. It needs at least two indices."
    )
    spread = (
        "Spread is the gap, in points, between the highest and the lowest standing a subject "
        f"gets. Subjects whose spread is above {threshold} points are flagged as disputed; with "
        "three or more indices, the index farthest from the others' median is marked as the "
        "odd one out."
    )
    if rule == "unusual":
        spread += (
            f" The {threshold} points are read off this roster, so that a flag marks the few whose "
            "indices disagree unusually, not everyone indices that agree only moderately put some "
            "way apart. How far a subject's standings typically scatter around their consensus is "
            "measured on the whole roster (the median spread, allowing for how many indices scored "
            "each subject); a subject is disputed when their spread is wider than that ordinary "
            "scatter would give in 99 cases out of 100. Where the indices agree closely the bar "
            "is lower; where they agree little, only the extreme cases are flagged. A fixed "
            "number can be set instead (disagreement_threshold in the config)."
        )
    return MethodView(name=method, title=title, paragraphs=(how, consensus, spread))
