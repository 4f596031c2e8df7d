"""``aggregator sandbox`` as a user runs it: a real process, its config used by a real run, Ctrl-C."""

from __future__ import annotations

import json
import os
import selectors
import signal
import subprocess
import sys
import time
import tomllib
import urllib.request
from pathlib import Path

import pytest

from aggregator.cli import main
from aggregator.cli.sandbox import READY_LINE


def read_config(process: subprocess.Popen[bytes], deadline: float = 30.0) -> str:
    """Standard output up to the ready line (the config), without blocking past ``deadline``."""
    assert process.stdout is not None
    fd = process.stdout.fileno()
    selector = selectors.DefaultSelector()
    selector.register(fd, selectors.EVENT_READ)
    seen = b""
    end = time.monotonic() + deadline
    while time.monotonic() < end and READY_LINE.encode() not in seen:
        if selector.select(timeout=0.5):
            chunk = os.read(fd, 65536)
            if not chunk:
                break
            seen += chunk
    text = seen.decode()
    assert READY_LINE in text, f"no config within {deadline}s: {text!r}"
    return text.split(READY_LINE)[0]


def test_sandbox_prints_a_config_that_a_real_run_uses_and_stops_on_ctrl_c(tmp_path: Path):
    roster = tmp_path / "roster.csv"
    process = subprocess.Popen(
        [sys.executable, "-m", "aggregator", "sandbox", "--vendors", "klout,kred", "--seed", "3",
         "--version", "2", "--roster", str(roster)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )
    try:
        text = read_config(process)
        config = tomllib.loads(text)
        assert set(config["indices"]) == {"klout", "kred"}
        klout = config["indices"]["klout"]
        assert klout["adapter"] == "klout" and klout["rate_limit"] == "10/s"
        assert set(config["indices"]["kred"]["options"]) == {"base_url", "api_key", "app_id"}
        assert Path(config["roster"]["path"]) == roster.resolve()
        people = roster.read_text(encoding="utf-8").splitlines()
        assert people[0] == "id,name,twitter" and len(people) == 1570

        # the servers answer with the printed key
        handle = people[1].split(",")[2]
        query = f"screenName={handle}&key={klout['options']['api_key']}"
        url = f"{klout['options']['base_url']}/v2/identity.json/twitter?{query}"
        assert url.startswith("http://127.0.0.1:")
        with urllib.request.urlopen(url) as reply:  # noqa: S310 (checked: loopback http)
            assert json.loads(reply.read())["network"] == "ks"

        # and the config, as printed, drives a real run (on a short roster)
        roster.write_text("\n".join(people[:7]) + "\n", encoding="utf-8")
        (tmp_path / "config.toml").write_text(text, encoding="utf-8")
        done = subprocess.run([sys.executable, "-m", "aggregator", "run", "-c", str(tmp_path / "config.toml"),
                               "--quiet"], capture_output=True, text=True, timeout=120, cwd=tmp_path)
        assert done.returncode in {0, 1}, done.stderr
        assert "klout: 6/6 scored" in done.stderr
        assert "kred:" in done.stderr
    finally:
        process.send_signal(signal.SIGINT)
        err = process.communicate(timeout=20)[1].decode()
    assert process.returncode == 0, err
    assert "sandbox stopped" in err
    assert "klout: http://127.0.0.1:" in err


@pytest.mark.parametrize(("args", "message"), [
    (["--vendors", "klout,myspace"], "unknown vendor(s) ['myspace']"),
    (["--faults", "bogus=0.1"], "--faults: fault 'bogus=0.1': unknown name"),
    (["--vendors", "klout", "--faults", "klout.not_complete=0.5"], "klout cannot show not_complete"),
    (["--port", "70000"], "--port must be between 0 and"),
])
def test_bad_options_exit_2_with_a_clear_message(args, message, capsys):
    assert main(["sandbox", *args]) == 2
    assert message in capsys.readouterr().err
