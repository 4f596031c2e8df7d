"""``aggregator run --shard K/N``: disjoint parts of a real roster, each collected into its own store,
and ``aggregator export`` of the N stores giving the run an unsharded collection gives.

The roster is the sandbox's 1,569 real (anonymized) accounts; the indices are ``files`` adapters
reading CSV exports made from their activity features (some accounts missing, one bad value).
"""

from __future__ import annotations

import json
import os
import random
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

pq = pytest.importorskip("pyarrow.parquet", reason="pyarrow is the optional 'spark' extra: pip install '.[spark]'")

from adapters.sandbox.population import load_population, write_roster  # noqa: E402
from aggregator.cli.main import main  # noqa: E402
from aggregator.collection.roster import load_roster, shard_of, take_shard  # noqa: E402
from aggregator.collection.store import Store  # noqa: E402

RUN = "nightly-1"


@pytest.fixture(scope="module")
def roster_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("roster") / "roster.csv"
    write_roster(load_population(), path)
    return path


def test_every_subject_is_in_exactly_one_shard_for_n_1_to_7(roster_file):
    roster = load_roster(roster_file)
    assert len(roster) == 1569
    for count in range(1, 8):
        parts = [take_shard(roster, k, count)[1] for k in range(1, count + 1)]
        joined = sorted(i for part in parts for i in part)
        assert joined == list(range(len(roster))), count  # the union is the roster, nobody twice
        assert all(part == sorted(part) for part in parts)  # each part keeps roster order
        if count > 1:  # a hash spreads them: no part is empty or holds most of the roster
            assert all(len(roster) / count / 2 < len(part) < len(roster) / count * 2 for part in parts), count


def test_a_subject_s_shard_depends_on_its_id_only(roster_file):
    roster = load_roster(roster_file)
    shuffled = list(roster)
    random.Random(7).shuffle(shuffled)
    for count in (2, 5):
        before = {roster[i].id: k for k in range(1, count + 1) for i in take_shard(roster, k, count)[1]}
        after = {shuffled[i].id: k for k in range(1, count + 1) for i in take_shard(shuffled, k, count)[1]}
        assert before == after
    # another interpreter with another string-hash seed puts every subject in the same shard
    ids = [s.id for s in roster]
    script = ("import json, sys\nfrom aggregator.collection.roster import shard_of\n"
              "print(json.dumps([shard_of(i, 5) for i in json.load(sys.stdin)]))")
    done = subprocess.run([sys.executable, "-c", script], input=json.dumps(ids), capture_output=True, text=True,
                          check=True, env={**os.environ, "PYTHONHASHSEED": "12345"})
    assert json.loads(done.stdout) == [shard_of(i, 5) for i in ids]


# -- collection and export ------------------------------------------------------------------------


def _project(folder: Path, roster_file: Path) -> Path:
    """Two CSV exports of the population: klout from followers, kred from listed counts (a tenth of the
    accounts unknown to each, one kred value unreadable: a bad_payload failure)."""
    population = load_population()
    folder.mkdir(parents=True, exist_ok=True)
    features = {name: j for j, name in enumerate(population.feature_names)}
    with (folder / "klout.csv").open("w") as out:
        out.write("screen_name,score\n")
        for i, handle in enumerate(population.handles):
            if i % 10 != 3:
                out.write(f"{handle},{population.features[i, features['follower_count']]:.6g}\n")
    with (folder / "kred.csv").open("w") as out:
        out.write("screen_name,influence\n")
        for i, handle in enumerate(population.handles):
            if i % 10 != 7:
                value = "n/a" if i == 11 else f"{population.features[i, features['listed_count']]:.6g}"
                out.write(f"{handle},{value}\n")
    (folder / "optout.txt").write_text(f"{population.ids[5]}\n")
    return _config(folder, roster_file, "history.sqlite")


#: index -> (its export, the export's value column)
INDICES = {"klout": ("klout.csv", "score"), "kred": ("kred.csv", "influence")}


def _config(folder: Path, roster_file: Path, store: str) -> Path:
    path = folder / f"{Path(store).stem}.toml"
    indices = "".join(
        f'[indices.{name}]\nadapter = "files"\n[indices.{name}.options]\npath = "{export}"\n'
        f'match = "handle:twitter"\nkey_column = "screen_name"\nvalue_column = "{column}"\n'
        for name, (export, column) in INDICES.items())
    path.write_text(f'[store]\npath = "{store}"\n[roster]\npath = "{roster_file}"\nopt_out = "optout.txt"\n'
                    f'[report]\nout = "{Path(store).stem}.txt"\ntitle = "Shards"\n{indices}')
    return path


def _run(*args: str) -> int:
    return main(["run", "--quiet", *args])


def _exported(folder: Path) -> dict[str, Any]:
    """What an export holds, in a form where equal runs are equal (no fetch times, no part layout)."""
    subjects = pq.read_table(folder / "subjects").sort_by("position").to_pylist()
    readings = pq.read_table(folder / "readings").drop_columns(["fetched_at"]).to_pylist()
    failures = pq.read_table(folder / "failures").drop_columns(["at"]).to_pylist()
    key = lambda row: (row["index"], row["subject_id"] or "")  # noqa: E731
    return {"subjects": subjects, "readings": sorted(readings, key=key), "failures": sorted(failures, key=key),
            "indices": pq.read_table(folder / "indices").to_pylist(),
            "id": json.loads((folder / "run.json").read_text())["id"]}


@pytest.fixture(scope="module")
def collected(tmp_path_factory: pytest.TempPathFactory, roster_file: Path) -> tuple[Path, dict[str, Any]]:
    """The whole roster collected once, as one run, and exported."""
    folder = tmp_path_factory.mktemp("shards")
    whole = _project(folder, roster_file)
    assert _run("-c", str(whole), "--run-id", RUN) == 1  # the unreadable kred value is a failed fetch
    assert main(["export", RUN, "--store", str(folder / "history.sqlite"), "--parquet", str(folder / "whole")]) == 0
    return folder, _exported(folder / "whole")


@pytest.mark.parametrize("count", [1, 3])
def test_the_exports_of_n_shards_are_one_unsharded_run(collected, roster_file, count, capsys):
    folder, whole = collected
    stores = []
    for k in range(1, count + 1):
        config = _config(folder, roster_file, f"shard-{k}-of-{count}.sqlite")
        assert _run("-c", str(config), "--shard", f"{k}/{count}", "--run-id", RUN) in (0, 1)
        stores.append(str(folder / f"shard-{k}-of-{count}.sqlite"))
    out = folder / f"joined-{count}"
    given = [x for path in reversed(stores) for x in ("--store", path)]  # in any order
    assert main(["export", RUN, *given, "--parquet", str(out)]) == 0
    joined = _exported(out)
    assert joined == whole
    assert len(whole["subjects"]) == 1568  # the opted-out one is not there
    assert len(whole["readings"]) == 2821 and len(whole["failures"]) == 315  # 314 not found, 1 bad value
    assert [f["subject_id"] for f in whole["failures"] if f["kind"] == "bad_payload"] == ["p0012"]
    assert [s["position"] for s in joined["subjects"]] == list(range(1568))
    assert json.loads((out / "run.json").read_text())["shard_count"] == count


def test_a_missing_duplicated_or_foreign_shard_is_refused(collected, roster_file, capsys):
    folder, _ = collected
    for k in (1, 2):
        config = _config(folder, roster_file, f"part-{k}.sqlite")
        _run("-c", str(config), "--shard", f"{k}/3", "--run-id", "cut")
    one, two = str(folder / "part-1.sqlite"), str(folder / "part-2.sqlite")
    capsys.readouterr()
    assert main(["export", "cut", "--store", one, "--store", two, "--parquet", str(folder / "x")]) == 2
    err = capsys.readouterr().err
    assert "missing shard 3/3" in err and "1/3 in" in err and "part-1.sqlite" in err
    assert main(["export", "cut", "--store", one, "--store", one, "--parquet", str(folder / "y")]) == 2
    assert "shard 1/3 of run cut is in both" in capsys.readouterr().err
    _run("-c", str(_config(folder, roster_file, "halves.sqlite")), "--shard", "2/2", "--run-id", "cut")
    assert main(["export", "cut", "--store", one, "--store", str(folder / "halves.sqlite"),
                 "--parquet", str(folder / "z")]) == 2
    assert "not shards of one roster" in capsys.readouterr().err
    assert not (folder / "x" / "run.json").exists() and not (folder / "z" / "run.json").exists()
    # the whole-roster run beside a shard of it
    assert main(["export", RUN, "--store", str(folder / "history.sqlite"), "--store",
                 str(folder / "shard-1-of-3.sqlite"), "--parquet", str(folder / "w")]) == 2
    assert "of a whole roster" in capsys.readouterr().err


@pytest.mark.parametrize("value", ["0/3", "4/3", "a/3", "3", "1/0", "-1/2", ""])
def test_a_bad_shard_names_the_flag(value, collected, capsys):
    folder, _ = collected
    with pytest.raises(SystemExit) as exit_:
        main(["run", "-c", str(folder / "history.toml"), "--shard", value, "--run-id", "x"])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert "argument --shard" in err and "K/N" in err and "Traceback" not in err


def test_a_shard_needs_a_run_id_and_resumes_as_itself(collected, roster_file, capsys):
    folder, _ = collected
    config = _config(folder, roster_file, "resumed.sqlite")
    assert _run("-c", str(config), "--shard", "2/4") == 2
    assert "--shard K/N needs --run-id ID" in capsys.readouterr().err
    assert _run("-c", str(config), "--shard", "2/4", "--run-id", "r") in (0, 1)
    assert _run("-c", str(config), "--shard", "2/4", "--run-id", "r") == 2  # the id is taken
    assert "already holds run 'r'; continue it with --resume r" in capsys.readouterr().err
    assert _run("-c", str(config), "--resume", "r", "--shard", "1/4") == 2
    assert "run r collected shard 2/4, not shard 1/4" in capsys.readouterr().err
    with Store(folder / "resumed.sqlite") as store:
        subjects = [s.id for s in store.subjects("r")]
        readings = store.run("r").counts.readings
    with sqlite3.connect(folder / "resumed.sqlite") as db:  # answers lost as if the run had been killed
        db.execute("DELETE FROM readings WHERE run_id = 'r' AND subject_id IN (?, ?)", subjects[:2])
    db.close()
    assert _run("-c", str(config), "--resume", "r") in (0, 1)
    with Store(folder / "resumed.sqlite") as store:
        run = store.run("r")
        assert str(run.shard) == "2/4" and run.shard is not None and run.shard.size == 1568
        assert [s.id for s in store.subjects("r")] == subjects and run.counts.readings == readings
    assert {shard_of(s, 4) for s in subjects} == {2}


def test_the_report_of_a_shard_says_it_is_one(collected, roster_file, capsys):
    folder, _ = collected
    config = _config(folder, roster_file, "reported.sqlite")
    out = folder / "reported.txt"
    assert _run("-c", str(config), "--shard", "3/5", "--run-id", "rep", "--out", str(out)) in (0, 1)
    text = " ".join(out.read_text().split())
    assert "This is shard 3 of 5 of a roster of 1,568: standings are among this shard's subjects only" in text
    assert "(shard 3/5 of a roster of 1568)" in capsys.readouterr().err
    whole = " ".join((folder / "whole.txt").read_text().split()) if (folder / "whole.txt").exists() else ""
    assert "This is shard" not in whole
    html = folder / "reported.html"
    assert _run("-c", str(config), "--resume", "rep", "--out", str(html)) in (0, 1)
    assert "shard 3 of 5 of a roster of 1,568" in html.read_text()
