"""The event loop of the ``aggregator`` command: uvloop where installed, asyncio's on request, and
a real run against the sandbox vendors completing on each."""

from __future__ import annotations

import asyncio
import os
import re
import sys
from pathlib import Path

import pytest

from adapters.sandbox.launch import launch
from aggregator.app import eventloop
from aggregator.errors import ConfigError

try:
    import uvloop  # noqa: F401
except ImportError:  # Windows: asyncio's own loop only
    HAVE_UVLOOP = False
else:
    HAVE_UVLOOP = True
needs_uvloop = pytest.mark.skipif(not HAVE_UVLOOP, reason="uvloop is not installed (not on Windows)")


async def _running_loop_module() -> str:
    return type(asyncio.get_running_loop()).__module__.split(".")[0]


@pytest.mark.parametrize(("setting", "expected"), [
    pytest.param("", "uvloop", marks=needs_uvloop), pytest.param("auto", "uvloop", marks=needs_uvloop),
    pytest.param("uvloop", "uvloop", marks=needs_uvloop), ("asyncio", "asyncio"), (" AsyncIO ", "asyncio")])
def test_the_setting_chooses_the_loop_the_coroutine_runs_on(monkeypatch, setting, expected):
    monkeypatch.setenv(eventloop.ENV, setting)
    assert eventloop.run(_running_loop_module()) == expected


def test_an_unknown_setting_is_an_error_naming_the_variable_and_the_choices(monkeypatch):
    monkeypatch.setenv(eventloop.ENV, "trio")
    with pytest.raises(ConfigError, match=r"AGGREGATOR_EVENT_LOOP: expected one of auto, uvloop, asyncio, got 'trio'"):
        eventloop.run(_running_loop_module())


def test_insisting_on_uvloop_without_it_installed_is_an_error(monkeypatch):
    monkeypatch.setenv(eventloop.ENV, "uvloop")
    monkeypatch.setitem(sys.modules, "uvloop", None)  # what Python does for a module that is not there
    with pytest.raises(ConfigError, match="uvloop is not installed"):
        eventloop.run(_running_loop_module())
    monkeypatch.setenv(eventloop.ENV, "auto")  # and unset or auto falls back to asyncio's own loop
    assert eventloop.run(_running_loop_module()) == "asyncio"


#: the real command's entry point, with every log line shown (the loop is logged at debug level)
RUN = ("import logging, sys; logging.basicConfig(level=logging.DEBUG); "
       "from aggregator.cli.main import main; sys.exit(main(sys.argv[1:]))")


@pytest.mark.parametrize("loop", [pytest.param("uvloop", marks=needs_uvloop), "asyncio"])
async def test_aggregator_run_collects_from_the_sandbox_vendors_on_each_loop(tmp_path: Path, loop: str):
    async with launch(["klout", "peerindex", "kred", "empireavenue"], seed=5) as sandbox:
        handles = sandbox.handles[:6]
        (tmp_path / "roster.csv").write_text(
            "id,name,twitter\n" + "".join(f"p{i},Person {i},{h}\n" for i, h in enumerate(handles)), encoding="utf-8")
        config = tmp_path / "config.toml"
        config.write_text(sandbox.config_toml(), encoding="utf-8")
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-c", RUN, "run", "-c", str(config), "--quiet", cwd=tmp_path,
            env={**os.environ, eventloop.ENV: loop},
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        out, err = await asyncio.wait_for(process.communicate(), 120)
        seen = {name: server.server.stats["requests"] for name, server in sandbox.vendors.items()}
    stderr = err.decode()
    assert process.returncode in {0, 1}, stderr
    assert f"event loop: {loop}" in stderr
    assert "report: " in out.decode() and (tmp_path / "report.html").is_file()
    assert all(seen[name] > 0 for name in seen), seen  # every vendor was asked
    for name in ("klout", "peerindex", "kred", "empireavenue"):
        assert re.search(rf"{name}: [1-6]/6 scored", stderr), stderr
