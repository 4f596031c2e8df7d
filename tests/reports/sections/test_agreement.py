"""Agreement between indices: a symmetric matrix whose colour steps follow its values."""

from __future__ import annotations

from reports.model import build_view

from .conftest import needs


def test_the_agreement_matrix_is_symmetric_with_levels_from_its_values(outcome):
    needs(outcome, "agreement")
    view = build_view(outcome)
    ag = view.agreement
    assert ag is not None and ag.columns == tuple(i.label for i in view.indices)
    for i, r in enumerate(ag.rows):
        assert r.cells[i].level == "self"
        for j, cell in enumerate(r.cells):
            assert (cell.kendall, cell.n) == (ag.rows[j].cells[i].kendall, ag.rows[j].cells[i].n)
            if i == j or cell.kendall is None:
                continue
            if cell.kendall < 0:
                assert cell.level == "neg"
            else:  # five steps of 0.2: a0 is [0, 0.2), a4 is [0.8, 1]
                step = int(cell.level[1])
                assert 0.2 * step <= cell.kendall and (cell.kendall < 0.2 * (step + 1) or step == 4)
    assert ag.outlier is None or ag.outlier in ag.columns
    assert any(s.startswith("Overall agreement (Krippendorff's alpha") for s in ag.sentences)
