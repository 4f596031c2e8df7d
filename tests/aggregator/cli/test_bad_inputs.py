"""A corpus of bad inputs (configs, rosters, exports, flags), each run through the ``aggregator``
command on the small ``project`` fixture with one thing broken. Every case exits 2 before the
first request (no run is stored), names the file, line, key or flag at fault, and prints no
traceback; a sample also runs as a real subprocess."""

from __future__ import annotations

import re
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from aggregator.cli import main
from aggregator.collection.store import Store


@dataclass(frozen=True)
class Case:
    name: str
    #: file (relative to the project) -> its new text; a (old, new) pair edits the file instead
    files: dict[str, str | tuple[str, str]] = field(default_factory=dict)
    #: the command, after ``aggregator``; {config} and {dir} are filled in
    argv: tuple[str, ...] = ("run", "-c", "{config}", "--quiet")
    #: what the message must name (a file, line, key or flag, and what was wrong)
    says: tuple[str, ...] = ()
    code: int = 2


def edit(old: str, new: str) -> tuple[str, str]:
    return (old, new)


CONFIG = "config.toml"
ROSTER = "roster.csv"
KLOUT_OPTIONS = 'path = "exports/klout.csv"'

CORPUS = [
    # -- config files
    Case("config-not-toml", {CONFIG: edit("[store]", "[store")}, says=("config.toml", "not valid TOML")),
    Case("config-unknown-key", {CONFIG: edit('title = "Test report"', 'titel = "Test report"')},
         says=("report.titel", "unknown key")),
    Case("config-reversed-scale", {CONFIG: edit("scale = [1, 100]", "scale = [100, 1]")},
         says=("indices.klout.options.scale", "lo below hi")),
    Case("config-empty-scale", {CONFIG: edit("scale = [1, 1000]", "scale = []")},
         says=("indices.kred.options.scale", "two numbers")),
    Case("config-rate-in-milliseconds", {CONFIG: edit('adapter = "files"', 'adapter = "files"\nrate_limit = "10/ms"')},
         says=("indices.klout.rate_limit", "'10/ms'")),
    Case("config-missing-environment", {CONFIG: edit(KLOUT_OPTIONS, 'path = "${NO_SUCH_VARIABLE_XYZ}"')},
         says=("indices.klout.options.path", "NO_SUCH_VARIABLE_XYZ is not set")),
    Case("config-encoded-line-break-in-subject",
         {CONFIG: edit('title = "Test report"',
                       'title = "Test report"\nsubject = "=?utf-8?q?Hi=0D=0ABcc:_x@evil.example?="')},
         says=("report.subject", "decodes to a control character")),
    Case("config-unknown-adapter", {CONFIG: edit('adapter = "files"', 'adapter = "filez"')},
         says=("indices.klout.adapter", "filez")),
    Case("config-bad-cron", {CONFIG: edit('title = "Test report"', 'title = "Test report"\nschedule = "every monday"')},
         says=("report.schedule", "cron")),
    Case("config-plaintext-smtp-to-a-remote-host",
         {CONFIG: edit("[report]", '[smtp]\nhost = "smtp.example.org"\nsecurity = "none"\nallow_plaintext = true\n'
                                   'sender = "r@example.org"\n\n[report]')},
         says=("smtp", "loopback")),
    # -- rosters
    Case("roster-nul-in-a-name", {ROSTER: edit("Cy Chan", "Cy\x00Chan")}, says=("roster.csv", "line 4", "column name")),
    Case("roster-line-break-in-a-name", {ROSTER: edit("Dee Dunn", '"Dee\nDunn"')},
         says=("roster.csv", "line 6", "column name")),
    Case("roster-escape-in-a-name", {ROSTER: edit("Ann Archer", "Ann \x1b[31mArcher")},
         says=("roster.csv", "line 2", "control")),
    Case("roster-bidi-override-in-an-id", {ROSTER: edit("eve,Eve", "e\u202eve,Eve")},
         says=("roster.csv", "line 6", "column id", "bidirectional")),
    Case("roster-handle-twice", {ROSTER: edit("dee,Dee Dunn,deedee", "dee,Dee Dunn,CYCHAN")},
         says=("roster.csv", "line 5", "column twitter", "'CYCHAN'", "line 4")),
    Case("roster-id-twice", {ROSTER: edit("dee,Dee Dunn", "cy,Dee Dunn")}, says=("roster.csv", "line 5", "'cy'")),
    Case("roster-without-name-column", {ROSTER: edit("id,name,twitter", "id,nom,twitter")},
         says=("roster.csv", "'name'")),
    Case("roster-missing", {CONFIG: edit('path = "roster.csv"', 'path = "no-roster.csv"')},
         says=("no-roster.csv", "cannot read roster")),
    # -- exports
    Case("export-missing", {CONFIG: edit(KLOUT_OPTIONS, 'path = "exports/missing.csv"')},
         says=("indices.klout.options.path", "missing.csv")),
    Case("export-without-key-column", {CONFIG: edit('key_column = "screen_name"\nvalue_column = "score"',
                                                    'key_column = "handle"\nvalue_column = "score"')},
         says=("indices.klout.options.key_column", "'handle'", "screen_name")),
    Case("export-without-value-column", {CONFIG: edit('value_column = "influence"', 'value_column = "kred_score"')},
         says=("indices.kred.options.value_column", "'kred_score'")),
    Case("export-matches-a-network-the-roster-lacks",
         {CONFIG: edit('match = "handle:twitter"\nkey_column = "screen_name"\nvalue_column = "influence"',
                       'match = "handle:instagram"\nkey_column = "screen_name"\nvalue_column = "influence"')},
         says=("indices.kred.options.match", "'instagram'")),
    # -- flags
    Case("flag-unknown-format", argv=("run", "-c", "{config}", "--format", "pdf"), says=("--format", "'pdf'")),
    Case("flag-out-suffix-of-another-format", argv=("run", "-c", "{config}", "--out", "{dir}/report.pdf"),
         says=("--out", "report.pdf", ".html")),
    Case("flag-format-against-the-suffix", argv=("run", "-c", "{config}", "--out", "{dir}/r.html", "--format", "json"),
         says=("--out", "r.html", "json")),
    Case("flag-out-under-a-file", argv=("run", "-c", "{config}", "--out", "{dir}/roster.csv/report.html"),
         says=("--out", "not a folder")),
    Case("flag-out-is-a-folder", argv=("run", "-c", "{config}", "--out", "{dir}/exports"),
         says=("--out", "is a folder")),
    Case("flag-eml-under-a-file", argv=("run", "-c", "{config}", "--eml", "{dir}/roster.csv/x.eml"), says=("--eml",)),
    Case("flag-email-without-recipients", argv=("run", "-c", "{config}", "--email"), says=("--email", "recipients")),
    Case("flag-resend-without-slot", argv=("run", "-c", "{config}", "--resend"), says=("--resend", "--slot")),
    Case("flag-slot-bad-time", argv=("run", "-c", "{config}", "--slot", "report@monday"), says=("--slot", "YYYY")),
    Case("flag-slot-unknown-report", argv=("run", "-c", "{config}", "--slot", "weekly"),
         says=("no report named 'weekly'",)),
    Case("flag-demo-into-a-users-folder", argv=("demo", "--dir", "{dir}", "--quiet"), says=("--dir", "config.toml")),
    Case("flag-demo-out-suffix-of-another-format", argv=("demo", "--dir", "{dir}/demo", "--out", "{dir}/demo.pdf"),
         says=("--out", "demo.pdf")),
    Case("validate-config-export-without-value-column",
         {CONFIG: edit('value_column = "influence"', 'value_column = "kred_score"')},
         argv=("validate-config", "{config}"), says=("config.toml", "indices.kred.options.value_column")),
]


def _apply(project: Path, case: Case) -> list[str]:
    folder = project.parent
    for name, change in case.files.items():
        path = folder / name
        if isinstance(change, tuple):
            old, new = change
            text = path.read_text(encoding="utf-8")
            assert old in text, f"{case.name}: {old!r} is not in {name}"
            path.write_text(text.replace(old, new), encoding="utf-8")
        else:
            path.write_text(change, encoding="utf-8")
    return [arg.format(config=project, dir=folder) for arg in case.argv]


def _no_run_stored(project: Path) -> bool:
    store = project.parent / "history.sqlite"
    if not store.exists():
        return True
    with Store(store) as opened:
        return opened.runs() == []


@pytest.mark.parametrize("case", CORPUS, ids=[c.name for c in CORPUS])
def test_each_bad_input_is_refused_before_any_request_and_named(project, case, capsys):
    before = sorted(p.name for p in project.parent.iterdir())
    argv = _apply(project, case)
    code = main(argv)
    out, err = capsys.readouterr()
    assert code == case.code, out + err
    for words in case.says:
        assert words in err, f"{case.name}: {words!r} not in {err!r}"
    assert "Traceback" not in out + err
    assert _no_run_stored(project)
    if case.argv[0] == "demo":  # and the user's own files are as they were
        assert sorted(p.name for p in project.parent.iterdir()) == before


SAMPLE = ["config-encoded-line-break-in-subject", "roster-bidi-override-in-an-id", "export-without-key-column",
          "flag-out-suffix-of-another-format", "flag-demo-into-a-users-folder"]


@pytest.mark.parametrize("name", SAMPLE)
def test_as_a_real_process_the_same_cases_print_one_clear_error_and_no_traceback(project, name):
    case = next(c for c in CORPUS if c.name == name)
    argv = _apply(project, case)
    done = subprocess.run([sys.executable, "-m", "aggregator", *argv], capture_output=True, text=True, timeout=120)
    assert done.returncode == case.code
    assert "Traceback" not in done.stderr and re.match(r"^error: ", done.stderr)
    assert all(words in done.stderr for words in case.says)
    assert not re.search(r"[\x00\x1b\u202e]", done.stdout + done.stderr)  # nothing raw reaches the terminal


# --- where the report goes -----------------------------------------------------------------------------


def test_out_dash_writes_the_chosen_format_to_standard_output(project):
    import json

    done = subprocess.run([sys.executable, "-m", "aggregator", "run", "-c", str(project), "--out", "-",
                           "--format", "json", "--quiet"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert isinstance(json.loads(done.stdout), dict) and "Test report" in done.stdout
    assert "report: written to standard output" in done.stderr
    assert not (project.parent / "report.html").exists()


def test_a_closed_pipe_ends_quietly(project):
    proc = subprocess.Popen([sys.executable, "-m", "aggregator", "run", "-c", str(project), "--out", "-", "--quiet"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()  # like `| head` that has already gone: the report meets a closed pipe
    err = proc.stderr.read().decode()
    proc.stderr.close()
    assert proc.wait(timeout=120) == 0, err
    assert "Traceback" not in err and "BrokenPipe" not in err


async def test_run_report_inside_a_running_event_loop_says_what_to_do_instead(project):
    import aggregator

    with pytest.raises(aggregator.AggregatorError, match=r"await aggregator.Aggregator\(config\).run\(\)"):
        aggregator.run_report(project)
