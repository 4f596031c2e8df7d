"""Agreement between indices: Kendall's tau-b and Spearman's rho for each pair, Krippendorff's
alpha, the outlier, robustness and activity meters, in sentences (present only when the
comparison computed them).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from aggregator.analytics.compare import Comparison
from reports.sections._common import View, index_label


class AgreementCell(View):
    #: Kendall's tau-b, two decimals; None when undefined
    kendall: float | None
    spearman: float | None
    #: subjects both indices scored
    n: int
    #: the 95% interval of tau-b as text ("0.55 to 0.69"), when known
    interval: str | None
    #: colour step (a fixed token, safe as a CSS class): neg, a0 ... a4, na, self
    level: str


class AgreementRow(View):
    index: str
    cells: tuple[AgreementCell, ...]
    #: mean tau-b with the other indices
    mean: float | None


class AgreementView(View):
    columns: tuple[str, ...]
    rows: tuple[AgreementRow, ...]
    #: Krippendorff's alpha (interval metric, on percentiles), two decimals
    alpha: float | None
    #: one sentence each: overall agreement, the outlier, robustness, activity meters
    sentences: tuple[str, ...]
    outlier: str | None


def _r2(value: float) -> float | None:
    return None if not np.isfinite(value) else float(np.floor(value * 100 + 0.5) / 100)


def _level(value: float | None) -> str:
    if value is None:
        return "na"
    if value < 0:
        return "neg"
    return f"a{min(int(value * 5), 4)}"


def strength(alpha: float) -> str:
    if alpha >= 0.8:
        return "strong"
    if alpha >= 0.667:
        return "fair"
    if alpha >= 0.4:
        return "moderate"
    return "weak" if alpha >= 0 else "none (worse than chance)"


def agreement_view(comparison: Comparison, labels: Sequence[str]) -> AgreementView | None:
    agreement = getattr(comparison, "agreement", None)
    if agreement is None:
        return None
    k = len(labels)
    kendall_ci = getattr(agreement, "kendall_ci", None)
    rows = []
    for i in range(k):
        cells = []
        for j in range(k):
            tau, rho = _r2(float(agreement.kendall[i, j])), _r2(float(agreement.spearman[i, j]))
            interval = None
            if kendall_ci is not None and i != j:
                lo, hi = _r2(float(kendall_ci[i, j, 0])), _r2(float(kendall_ci[i, j, 1]))
                interval = f"{lo:.2f} to {hi:.2f}" if lo is not None and hi is not None else None
            cells.append(AgreementCell(
                kendall=tau, spearman=rho, n=int(agreement.n[i, j]), interval=interval,
                level="self" if i == j else _level(tau),
            ))
        rows.append(AgreementRow(index=labels[i], cells=tuple(cells), mean=_r2(float(agreement.mean_kendall[i]))))
    alpha = _r2(float(agreement.alpha))
    sentences = []
    if alpha is not None:
        sentences.append(
            f"Overall agreement (Krippendorff's alpha on the {k} indices' percentiles): {alpha:.2f}, "
            f"{strength(alpha)}; 1 would mean every index gives everyone the same standing."
        )
    outlier = labels[agreement.outlier] if 0 <= agreement.outlier < k else None
    if outlier is not None:
        o = agreement.outlier
        without = _r2(float(agreement.alpha_without[o]))
        mean = rows[o].mean
        text = f"{outlier} agrees least with the others (mean tau-b {mean:.2f})" if mean is not None else (
            f"{outlier} agrees least with the others")
        if without is not None and alpha is not None:
            text += f"; without it, alpha would be {without:.2f} instead of {alpha:.2f}"
        sentences.append(text + ".")
    robustness = getattr(comparison, "robustness", None)
    if robustness is not None and 0 <= robustness.most_influential < k:
        m = robustness.most_influential
        rho = _r2(float(robustness.rho_without[m]))
        shift = float(robustness.median_shift[m])
        if rho is not None:
            sentences.append(
                f"Leaving out {labels[m]} changes the consensus most: its order then correlates "
                f"{rho:.2f} with the full consensus, and a subject's consensus moves by "
                f"{shift:.1f} points (median)."
            )
    fingerprint = getattr(comparison, "fingerprint", None)
    if fingerprint is not None:
        meters = fingerprint.activity_meter
        for j, name in enumerate(fingerprint.indices):
            if j < len(meters) and meters[j]:
                label = labels[j] if j < k else index_label(name)
                act, resp = _r2(float(fingerprint.activity[j])), _r2(float(fingerprint.response[j]))
                feature = fingerprint.activity_feature[j] or "posting volume"
                answer = fingerprint.response_feature[j] or "the response received"
                resp_text = f"{resp:.2f}" if resp is not None else "n/a"
                sentences.append(
                    f"{label} behaves like an activity meter: it follows {index_label(feature).lower()} "
                    f"(rho = {act:.2f}) more than {index_label(answer).lower()} (rho = {resp_text})."
                )
    return AgreementView(
        columns=tuple(labels), rows=tuple(rows), alpha=alpha, sentences=tuple(sentences), outlier=outlier,
    )
