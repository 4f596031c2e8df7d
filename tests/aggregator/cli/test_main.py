"""The ``aggregator`` command as a user runs it: a real process, real files, exit codes."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from aggregator.collection.store import Store


def cli(*args: str, cwd=None, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "aggregator", *args], capture_output=True, text=True, cwd=cwd,
                          timeout=timeout)


def test_version_and_help_on_every_command():
    assert cli("--version").stdout.startswith("aggregator ")
    for command in ("demo", "run", "validate-config", "history", "runs", "forget", "sandbox", "schedule", "scorer",
                    "report"):
        shown = cli(command, "--help")
        assert shown.returncode == 0
        assert "usage: aggregator" in shown.stdout


def test_no_command_prints_help_and_exits_2():
    shown = cli()
    assert shown.returncode == 2
    assert "commands:" in shown.stdout


def test_run_with_only_coverage_gaps_exits_0_and_writes_report(project):
    done = cli("run", "-c", str(project), "--quiet")
    assert done.returncode == 0, done.stderr
    assert (project.parent / "report.html").exists()
    assert "peerindex: 3/4 scored; 1 not found; faults: none" in done.stderr


def test_run_with_failed_fetches_exits_1(project):
    kred = project.parent / "exports/kred.csv"
    kred.write_text(kred.read_text().replace("bobb,910", "bobb,n/a"))
    done = cli("run", "-c", str(project), "--out", str(project.parent / "out.txt"))
    assert done.returncode == 1
    assert "1 bad_payload" in done.stderr
    assert "kred.csv:3: column 'influence': expected a number, got 'n/a'" in (project.parent / "out.txt").read_text()


def test_bad_config_exits_2_with_every_problem(write, project):
    text = project.read_text().replace('scale = [1, 1000]', 'scale = "big"')
    peer = '[indices.peerindex.options]'
    text = text.replace(f'adapter = "files"\n{peer}', f'adapter = "nope"\n{peer}')
    bad = write("bad.toml", text.replace("[indices.klout]\n", "[indices.klout]\nrate_limit = 'lots'\n"))
    for command in (("validate-config", str(bad)), ("run", "-c", str(bad))):
        done = cli(*command)
        assert done.returncode == 2
        assert "indices.kred.options.scale" in done.stderr
        assert "indices.peerindex.adapter: unknown adapter 'nope'" in done.stderr
        assert "indices.klout.rate_limit" in done.stderr
        assert "Traceback" not in done.stderr


def test_validate_config_ok(project):
    done = cli("validate-config", str(project))
    assert done.returncode == 0
    assert "3 indices" in done.stdout and "5 subjects, 1 opted out" in done.stdout


def test_bad_roster_line_is_named(project):
    (project.parent / "roster.csv").write_text("id,name,twitter\nann,Ann,a\nann,Ann2,b\n")
    done = cli("validate-config", str(project))
    assert done.returncode == 2
    assert "roster.csv: line 3: duplicate id 'ann'" in done.stderr


def test_history_and_runs(project):
    for _ in range(2):
        assert cli("run", "-c", str(project), "-q").returncode == 0
    history = cli("history", "ann", "-c", str(project), "--json")
    assert history.returncode == 0, history.stderr
    points = json.loads(history.stdout)
    assert len(points) == 2
    assert points[0]["raw"] == {"klout": 81.5, "kred": 420.0, "peerindex": 70.0}
    table = cli("history", "ann", "-c", str(project))
    assert "81.5" in table.stdout
    assert cli("history", "nobody", "-c", str(project)).returncode == 2
    runs = cli("runs", "-c", str(project))
    assert runs.stdout.count("finished") == 2


def test_resume_of_unknown_run_is_exit_2(project):
    done = cli("run", "-c", str(project), "--resume", "no-such-run")
    assert done.returncode == 2
    assert "no run 'no-such-run'" in done.stderr


@pytest.mark.parametrize("subjects", ["40", "1580"])
def test_demo_runs_offline_and_marks_synthetic_subjects(tmp_path, subjects):
    folder = tmp_path / "demo"
    # two snapshots of 1,580 people from five indices: over 120 s beside two CPU burners
    done = cli("demo", "--dir", str(folder), "--subjects", subjects, "--quiet", timeout=600)
    assert done.returncode == 0, done.stderr
    report = folder / "report.html"
    assert f"report: {report.resolve().as_uri()}" in done.stdout
    html = report.read_text()
    # the bundled population is 1,569 people; past 500 subjects the page lists a few and the full
    # standing, every synthetic subject included, is the CSV beside it
    standing = folder / "report.standing.csv"
    assert standing.is_file() == (subjects == "1580")
    listed = standing.read_text(encoding="utf-8") if standing.is_file() else html
    assert ("(synthetic)" in listed) == (subjects == "1580")
    for vendor in ("Klout", "PeerIndex", "Kred", "Empire Avenue", "In-house"):
        assert vendor in html
    runs = cli("runs", "--store", str(folder / "history.sqlite"))
    assert runs.stdout.count("finished") == 2  # two snapshots: algorithm versions 1, then 2
    # Klout's recalibration is one event, and the version the config declares for it another
    assert "Klout rescaled" in html and "Klout changed its algorithm (version 1 → 2)" in html
    assert 'algorithm_version = "2"' in (folder / "config.toml").read_text()


def test_demo_refuses_a_zero_roster(tmp_path):
    done = cli("demo", "--dir", str(tmp_path), "--subjects", "0")
    assert done.returncode == 2
    assert "--subjects must be at least 1" in done.stderr


def test_retry_asks_again_for_the_kinds_named_and_needs_a_run(project):
    assert "not a failure kind; known: auth, rate_limited" in cli("run", "-c", str(project), "--retry", "bogus").stderr
    alone = cli("run", "-c", str(project), "--retry", "not_found")
    assert alone.returncode == 2 and "--retry asks again within a run: give the run with --resume" in alone.stderr
    assert cli("run", "-c", str(project), "--quiet").returncode == 0
    run_id = cli("runs", "-c", str(project)).stdout.split()[0]

    def gaps() -> dict:
        with Store(project.parent / "history.sqlite", read_only=True) as store:
            return {(f.index, f.subject_id): f.at for f in store.failures(run_id)}

    before = gaps()
    plain = cli("run", "-c", str(project), "--resume", run_id, "--quiet")  # not_found is final: not asked
    assert plain.returncode == 0 and gaps() == before
    again = cli("run", "-c", str(project), "--resume", run_id, "--retry", "not_found", "--quiet")
    assert again.returncode == 0 and "peerindex: 3/4 scored; 1 not found; faults: none" in again.stderr
    after = gaps()
    assert after.keys() == before.keys() and all(after[pair] > before[pair] for pair in before)  # asked again
