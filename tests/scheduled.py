"""A small project whose report is scheduled (and mailed through a loopback relay), and the
``aggregator`` command run as a real subprocess on it."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path


def scheduled(project: Path, extra: str = "") -> Path:
    """Turn the ``project`` fixture's one report into ``[[report]] weekly``, Mondays 02:30 in Berlin."""
    text = project.read_text().replace('[report]\nout = "report.html"\ntitle = "Test report"', textwrap.dedent(f"""
        [[report]]
        name = "weekly"
        out = "weekly.html"
        title = "Test report"
        schedule = "30 2 * * 1"
        timezone = "Europe/Berlin"
        {extra}
    """).strip())
    assert "[[report]]" in text
    project.write_text(text)
    return project


def mailing(project: Path, port: int, extra_smtp: str = "", extra_report: str = "", timeout: float = 5) -> Path:
    """:func:`scheduled`, mailed to two recipients through plaintext SMTP on 127.0.0.1:``port``."""
    config = scheduled(project, 'recipients = ["ann@example.org", "Bob Stone <bob@example.org>"]\n' + extra_report)
    config.write_text(config.read_text() + textwrap.dedent(f"""
        [smtp]
        host = "127.0.0.1"
        port = {port}
        security = "none"
        allow_plaintext = true
        sender = "Reports <reports@example.org>"
        timeout = {timeout}
        deadline = 30
        {extra_smtp}
    """))
    return config


def command(*args: str) -> list[str]:
    return [sys.executable, "-m", "aggregator", *args]


def cli(*args: str, env: dict[str, str] | None = None, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    """Run ``aggregator ARGS`` to the end; its exit code and output."""
    return subprocess.run(command(*args), capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, **(env or {})})
