"""The Python API: run a configured collection and render its report.

This is the app layer: it may import the built-in plugins, always lazily, so that
``import aggregator`` stays light.
"""

from __future__ import annotations

import asyncio
from collections.abc import Collection
from pathlib import Path

from aggregator.analytics.outcome import RunOutcome
from aggregator.app.config import Config, load_config
from aggregator.app.pipeline import run as run_pipeline
from aggregator.collection.collect import ProgressCallback
from aggregator.collection.store import Store
from aggregator.errors import DeliveryError
from aggregator.models import FailureKind

_KIND_BY_SUFFIX = {".html": "html", ".htm": "html", ".txt": "text", ".json": "json", ".eml": "email"}


def render(outcome: RunOutcome, kind: str = "html") -> str | bytes:
    """Render a run's report with the named renderer (``html``, ``text``, ``json``, ``email`` or a plugin).

    Text formats come back as ``str``; ``email`` is a whole MIME message, as ``bytes``.
    """
    from reports.render import render as render_report

    return render_report(outcome, kind)


class RunResult:
    """A finished run: its comparison, and its report in any format."""

    def __init__(self, outcome: RunOutcome) -> None:
        self.outcome = outcome

    @property
    def run_id(self) -> str:
        return self.outcome.run.id

    @property
    def has_faults(self) -> bool:
        return self.outcome.has_faults

    def render(self, kind: str = "html") -> str | bytes:
        return render(self.outcome, kind)

    def write(self, path: str | Path, kind: str | None = None) -> Path:
        """Write the report; the format follows the file name unless ``kind`` is given."""
        path = Path(path)
        kind = kind or _KIND_BY_SUFFIX.get(path.suffix.lower(), "html")
        document = self.render(kind)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(document, bytes):
                path.write_bytes(document)
            else:
                path.write_text(document, encoding="utf-8")
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
                  progress: ProgressCallback | None = None) -> RunResult:
        """Collect, store and compare; with ``resume``, continue that run (asking again for the
        pairs whose failure is of a kind in ``retry``, final or not)."""
        with Store(self.config.store.path) as store:
            outcome = await run_pipeline(self.config, store, resume=resume, retry=retry, progress=progress)
        return RunResult(outcome)


def run_report(config_path: str | Path, out: str | Path | None = None, *, kind: str | None = None) -> RunResult:
    """Run the config's collection and write its report (to ``out``, else the config's ``report.out``).

    The synchronous entry point, for scripts and cron jobs.
    """
    aggregator = Aggregator(config_path)
    result = asyncio.run(aggregator.run())
    result.write(out if out is not None else aggregator.config.report.out, kind)
    return result
