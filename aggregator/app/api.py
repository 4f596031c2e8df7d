"""The Python API: run a configured collection and render its report.

This is the app layer: it may import the built-in plugins, always lazily, so that
``import aggregator`` stays light.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Collection, Mapping
from pathlib import Path

from aggregator.analytics.outcome import RunOutcome
from aggregator.app import eventloop
from aggregator.app.config import Config, load_config
from aggregator.app.pipeline import collect_run, compare_stored
from aggregator.collection.collect import ProgressCallback
from aggregator.collection.store import Store
from aggregator.errors import AggregatorError, ConfigError, DeliveryError, Problem
from aggregator.models import FailureKind

_KIND_BY_SUFFIX = {".html": "html", ".htm": "html", ".txt": "text", ".json": "json", ".eml": "email"}
#: ``--out -``: the report goes to standard output
STDOUT = "-"


def output_kind(path: str | Path, kind: str | None = None, *, flag: str = "--out") -> str:
    """The report format for ``path``: ``kind`` if given (it decides), else the file's suffix.

    A built-in format written under another format's suffix, or under a suffix no format owns
    (``report.pdf`` holding HTML), is an error, as is a format nobody installed.
    """
    from aggregator.plugins import renderers

    suffix = Path(path).suffix.lower()
    by_suffix = _KIND_BY_SUFFIX.get(suffix)
    chosen = kind or by_suffix or "html"
    renderers.load(chosen, where="--format" if kind else flag)  # an unknown format fails here, before any work
    builtin = set(_KIND_BY_SUFFIX.values())
    if str(path) != STDOUT and chosen in builtin and by_suffix != chosen:
        fitting = sorted(s for s, k in _KIND_BY_SUFFIX.items() if k == chosen)
        raise ConfigError([Problem(flag, f"{path} would hold {chosen}, not what its suffix says; "
                                         f"name it {' or '.join(fitting)}, or give --format")])
    return chosen


def check_writable(path: str | Path, flag: str = "--out") -> None:
    """Refuse an output that could not be written, before any work (``-`` is standard output)."""
    if str(path) == STDOUT:
        return
    path = Path(path)
    if path.is_dir():
        raise ConfigError([Problem(flag, f"{path} is a folder; give a file name")])
    folder = path.parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent  # the first folder that exists: the rest will be created
    if not folder.is_dir() or not os.access(folder, os.W_OK | os.X_OK):
        raise ConfigError([Problem(flag, f"cannot write {path}: {folder} is not a folder this user may write to")])


def render(outcome: RunOutcome, kind: str = "html") -> str | bytes:
    """Render a run's report with the named renderer (``html``, ``text``, ``json``, ``email`` or a plugin).

    Text formats come back as ``str``; ``email`` is a whole MIME message, as ``bytes``.
    """
    from reports.render import render as render_report

    return render_report(outcome, kind)


class RunResult:
    """A finished run: its comparison, and its report in any format."""

    def __init__(self, outcome: RunOutcome, not_asked: Mapping[str, int] | None = None) -> None:
        self.outcome = outcome
        #: by index, how many subjects this collection never sent a request for, because the
        #: index was marked down (its circuit breaker) or ran out of time; each is among the
        #: index's faults, counted exactly (0 for an index that asked everyone)
        self.not_asked: Mapping[str, int] = dict(not_asked or {})

    @property
    def run_id(self) -> str:
        return self.outcome.run.id

    @property
    def has_faults(self) -> bool:
        return self.outcome.has_faults

    def render(self, kind: str = "html") -> str | bytes:
        return render(self.outcome, kind)

    def write(self, path: str | Path, kind: str | None = None) -> Path:
        """Write the report; the format follows the file name unless ``kind`` is given.

        Past a roster size the report's standing is shortened and the full standing is written
        beside it as ``<name>.standing.csv`` (:mod:`reports.standing_csv`).
        """
        from reports.standing_csv import write_report

        path = Path(path)
        chosen = output_kind(path, kind)
        try:
            # whole or not at all: a kill or a full disk keeps the old report; past a size the full
            # standing goes beside it as CSV
            write_report(self.outcome, path, chosen)
        except OSError as exc:
            raise DeliveryError(f"cannot write the report to {path}: {exc.strerror}") from None
        return path


class Aggregator:
    """Collect, store and compare the indices a config declares.

    >>> import asyncio, aggregator
    >>> result = asyncio.run(aggregator.Aggregator("config.toml").run())  # doctest: +SKIP
    >>> html = result.render("html")  # doctest: +SKIP
    """

    def __init__(self, config: Config | str | Path) -> None:
        self.config = config if isinstance(config, Config) else load_config(config)

    async def run(self, *, resume: str | None = None, retry: Collection[FailureKind] = (),
                  progress: ProgressCallback | None = None, shard: tuple[int, int] | None = None,
                  run_id: str | None = None) -> RunResult:
        """Collect, store and compare; with ``resume``, continue that run (asking again for the
        pairs whose failure is of a kind in ``retry``, final or not); with ``shard`` ``(K, N)``,
        only the K-th of N disjoint parts of the roster, as run ``run_id``."""
        with Store(self.config.store.path) as store:
            collected = await collect_run(self.config, store, resume=resume, retry=retry, progress=progress,
                                          shard=shard, run_id=run_id)
            outcome = compare_stored(self.config, store, collected)
        return RunResult(outcome, collected.not_asked)


def run_report(config_path: str | Path, out: str | Path | None = None, *, kind: str | None = None) -> RunResult:
    """Run the config's collection and write its report (to ``out``, else the config's ``report.out``).

    The synchronous entry point, for scripts and cron jobs; it runs on uvloop where it is
    installed, as the command does (:mod:`aggregator.app.eventloop`). In a notebook (or anywhere an event
    loop already runs) use ``await aggregator.Aggregator(config_path).run()`` instead.
    """
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        pass  # no loop running: the usual case
    else:
        raise AggregatorError(
            "run_report() cannot start its own event loop inside a running one (a notebook?); "
            "use `result = await aggregator.Aggregator(config).run()` and then `result.write(path)`"
        )
    aggregator = Aggregator(config_path)
    target = out if out is not None else aggregator.config.report.out
    output_kind(target, kind)
    check_writable(target)
    result = eventloop.run(aggregator.run())
    result.write(target, kind)
    return result
