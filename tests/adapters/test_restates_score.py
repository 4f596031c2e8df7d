"""``restates_score`` for the config-declared adapters (``files``, ``http_json``): checked when the
config is read, and a component it names is never given as the reason for a disagreement."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import pytest

from aggregator.app.api import Aggregator
from aggregator.app.config import config_from_dict, load_config
from aggregator.errors import ConfigError
from reports.model import build_view

HTTP = {"adapter": "http_json", "options": {"url": "https://127.0.0.1/x/{handle}", "value": "/score",
                                            "components": {"reach": "/reach", "score_change": "/change"}}}
FILES = {"adapter": "files", "options": {"path": "export.csv", "components": {"reach": "reach",
                                                                              "score_change": "change"}}}


@pytest.mark.parametrize("index", [HTTP, FILES], ids=["http_json", "files"])
@pytest.mark.parametrize(("restates", "message"), [
    (["change"], "indices.v.options: restates_score names 'change', which is not among this index's components "
                 "(reach, score_change)"),
    (["score_change", "score_change"], "indices.v.options: restates_score names 'score_change' more than once"),
])
def test_a_restates_score_that_is_not_a_declared_component_is_refused_by_name(index, restates, message, tmp_path):
    (tmp_path / "roster.csv").write_text("id,name\nx,X\n", encoding="utf-8")
    options = {**index["options"], "restates_score": restates}
    data = {"roster": {"path": "roster.csv"}, "indices": {"v": {**index, "options": options}}}
    with pytest.raises(ConfigError, match=re.escape(message)):
        config_from_dict(data, base_dir=tmp_path, environ={})


@pytest.mark.parametrize("index", [HTTP, FILES], ids=["http_json", "files"])
def test_the_spec_carries_what_the_config_declares(index, tmp_path):
    from aggregator.plugins import Limits, adapters

    (tmp_path / "roster.csv").write_text("id,name\nx,X\n", encoding="utf-8")
    options = {**index["options"], "restates_score": ["score_change"]}
    config = config_from_dict({"roster": {"path": "roster.csv"}, "indices": {"v": {**index, "options": options}}},
                              base_dir=tmp_path, environ={})
    declared = config.indices["v"]
    cls = adapters.load(declared.adapter, where="adapter")
    adapter = cls("v", cls.Config.model_validate(declared.options), Limits())
    assert adapter.spec.restates_score == ("score_change",)


SUBJECTS = ("ann", "bob", "cy", "dee", "eve", "fay", "gus", "hal", "ida", "jon", "kim", "lou")


def _project(folder: Path, restates: list[str]) -> Path:
    """Three exports that agree on everyone but dee, whom Kred puts on top; Kred's components for dee:
    its score's change (which only restates the score), reach and replies, all high."""
    (folder / "roster.csv").write_text("id,name\n" + "".join(f"{s},{s.title()} Test\n" for s in SUBJECTS),
                                       encoding="utf-8")
    rank = {s: n for n, s in enumerate(SUBJECTS)}
    (folder / "a.csv").write_text("id,score\n" + "".join(f"{s},{10 + 5 * rank[s]}\n" for s in SUBJECTS))
    (folder / "b.csv").write_text("id,score\n" + "".join(f"{s},{12 + 5 * rank[s]}\n" for s in SUBJECTS))
    kred = {s: (99 if s == "dee" else 11 + 5 * rank[s]) for s in SUBJECTS}
    (folder / "kred.csv").write_text("id,score,reach,replies,change\n" + "".join(
        f"{s},{kred[s]},{900 if s == 'dee' else 100 + rank[s]},{80 if s == 'dee' else rank[s]},{kred[s] - 50}\n"
        for s in SUBJECTS))
    restated = f"restates_score = {restates!r}".replace("'", '"')
    (folder / "config.toml").write_text(f"""
[store]
path = "history.sqlite"
[roster]
path = "roster.csv"
[report]
out = "report.html"
[indices.a]
adapter = "files"
options = {{ path = "a.csv", scale = [0, 100] }}
[indices.b]
adapter = "files"
options = {{ path = "b.csv", scale = [0, 100] }}
[indices.kred]
adapter = "files"
[indices.kred.options]
path = "kred.csv"
label = "Kred"
scale = [0, 100]
components = {{ reach = "reach", replies = "replies", score_change = "change" }}
{restated}
""", encoding="utf-8")
    return folder / "config.toml"


@pytest.mark.parametrize(("restates", "named"), [
    ([], {"reach", "replies", "score change"}), (["score_change"], {"reach", "replies"}),
])
def test_a_component_declared_to_restate_the_score_is_left_out_of_explanations(restates, named, tmp_path):
    config = load_config(_project(tmp_path, restates))
    result = asyncio.run(Aggregator(config).run())
    view = build_view(result.outcome)
    dee = next(d for d in view.disagreements if d.subject_id == "dee")
    assert dee.dissenter == "Kred"
    assert dee.explanation is not None
    given = set(re.findall(r"(reach|replies|score change) \(", dee.explanation))
    assert given == named, dee.explanation
    assert dee.components is not None and ("score change" in dee.components) is not bool(restates)
