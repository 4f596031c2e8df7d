"""Every file we write is whole or untouched: real SIGKILLs mid-write, a real file-size limit
(RLIMIT_FSIZE, as a full disk would stop us) on the report, the JSON and the .eml."""

from __future__ import annotations

import os
import random
import signal
import stat
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from aggregator.atomic import atomic_open, write_atomic

WRITER = textwrap.dedent("""
    import sys
    from aggregator.atomic import write_atomic
    path, size = sys.argv[1], int(sys.argv[2])
    n = 0
    while True:  # versions of one file, each whole: a letter repeated, then its count
        letter = "abcdefgh"[n % 8]
        write_atomic(path, letter * size + f"|{size}")
        n += 1
        print(n, flush=True)
""")


def _whole(text: str, size: int) -> bool:
    body, _, tail = text.rpartition("|")
    return tail == str(size) and len(body) == size and len(set(body)) == 1


def test_a_file_killed_mid_write_is_the_old_or_the_new_one_never_a_torn_one(tmp_path):
    path, size = tmp_path / "report.html", 3_000_000
    write_atomic(path, "z" * size + f"|{size}")
    rng = random.Random(12)
    for _ in range(40):
        proc = subprocess.Popen([sys.executable, "-c", WRITER, str(path), str(size)], stdout=subprocess.PIPE,
                                text=True)
        assert proc.stdout is not None
        proc.stdout.readline()  # it has written once; now kill it somewhere in a later write
        time.sleep(rng.uniform(0, 0.05))
        proc.send_signal(signal.SIGKILL)
        proc.communicate()
        assert proc.returncode == -signal.SIGKILL
        assert _whole(path.read_text(), size)


LIMITED = textwrap.dedent("""
    import resource, signal, sys
    from pathlib import Path
    from aggregator.atomic import write_atomic
    path, limit, ignore = Path(sys.argv[1]), int(sys.argv[2]), sys.argv[3] == "ignore"
    # Python ignores SIGXFSZ (the write fails with EFBIG); by the system's default it kills the writer
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN if ignore else signal.SIG_DFL)
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    try:
        write_atomic(path, "new " * 50_000)
    except OSError as exc:
        print(exc.strerror)
""")


@pytest.mark.parametrize("how", ["ignore", "killed"])
def test_a_full_disk_leaves_the_previous_file_whole(tmp_path, how):
    path = tmp_path / "report.html"
    old = "<html>the complete previous report</html>" * 2000  # 84 KB
    path.write_text(old)
    done = subprocess.run([sys.executable, "-c", LIMITED, str(path), "100000", how], capture_output=True, text=True)
    if how == "ignore":
        assert done.returncode == 0 and "too large" in done.stdout.lower()
        assert sorted(p.name for p in tmp_path.iterdir()) == ["report.html"]  # no temporary file left over
    else:
        assert done.returncode == -signal.SIGXFSZ
    assert path.read_text() == old


REPORT_UNDER_LIMIT = textwrap.dedent("""
    import asyncio, resource, signal, sys
    from pathlib import Path
    from aggregator.app.api import Aggregator
    from aggregator.cli.deliver import write_eml
    from aggregator.errors import DeliveryError
    config, folder = sys.argv[1], Path(sys.argv[2])
    result = asyncio.run(Aggregator(config).run())
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))
    for name, write in [("report.html", lambda p: result.write(p)), ("report.json", lambda p: result.write(p)),
                        ("report.eml", lambda p: write_eml(p, result.render("email")))]:
        try:
            write(folder / name)
        except DeliveryError as exc:
            print(exc)
""")


def test_reports_and_emails_written_on_a_full_disk_keep_the_previous_ones(project, tmp_path):
    folder = tmp_path / "out"
    folder.mkdir()
    previous = {name: f"previous {name}, complete\n" for name in ("report.html", "report.json", "report.eml")}
    for name, text in previous.items():
        (folder / name).write_text(text)
    done = subprocess.run([sys.executable, "-c", REPORT_UNDER_LIMIT, str(project), str(folder)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.count("cannot write the") == 3 and "File too large" in done.stdout
    assert {p.name: p.read_text() for p in folder.iterdir()} == previous


def test_a_replaced_file_keeps_its_permissions_and_a_new_one_follows_the_umask(tmp_path):
    kept = tmp_path / "kept.txt"
    kept.write_text("old")
    kept.chmod(0o640)
    write_atomic(kept, "new")
    assert (kept.read_text(), stat.S_IMODE(kept.stat().st_mode)) == ("new", 0o640)
    mask = os.umask(0o027)
    try:
        fresh = write_atomic(tmp_path / "sub" / "fresh.bin", b"\x00\x01")
    finally:
        os.umask(mask)
    assert (fresh.read_bytes(), stat.S_IMODE(fresh.stat().st_mode)) == (b"\x00\x01", 0o640)


def test_an_error_inside_the_block_leaves_the_target_alone(tmp_path):
    path = tmp_path / "ranks.csv"
    path.write_text("node,pagerank\n")
    def half_a_file() -> None:
        with atomic_open(path) as handle:
            handle.write("half a file")
            raise RuntimeError("stopped half-way")

    with pytest.raises(RuntimeError):
        half_a_file()
    assert path.read_text() == "node,pagerank\n"
    assert [p.name for p in Path(tmp_path).iterdir()] == ["ranks.csv"]
