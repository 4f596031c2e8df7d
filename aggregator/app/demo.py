"""The embedded demo: a real run on bundled data, with no network and no config.

The roster is a sample of real (anonymized) Twitter accounts shipped with the package. The four
vendors are the loopback sandbox servers (``adapters.sandbox``), started in-process: they score
the accounts from their real activity by each vendor's published method and speak each vendor's
API, so the demo goes through the real adapters, rate limits, store and comparison. Beyond the
bundled population, subjects are resampled from the same distributions and marked synthetic.

A fifth index is our own transparent in-house score (``aggregator.scoring``), computed from
the same accounts' activity features.

The demo also ships people's own judgments of who is more influential, between its people
(the PeerIndex pairs data's labels), so the report checks every index against them. The
in-house model was fitted on those same pairs: the config marks it ``in_sample``, and the report
says its figure is a fit, not a test.

The demo takes two snapshots: the vendors at algorithm version 1, then at version 2 (Klout's
2011 recalibration, declared in the config as a user would declare an announced change), so
the report has a previous run to compare with. It writes the config it used last beside its
inputs, for reading; the sandbox servers stop with the demo (``aggregator sandbox`` starts
them on their own).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aggregator.atomic import write_atomic
from aggregator.errors import ConfigError

if TYPE_CHECKING:
    from adapters.sandbox.population import Population
    from aggregator.app.api import RunResult
    from aggregator.collection.collect import ProgressCallback

DEFAULT_SUBJECTS = 500
#: demo subjects that "asked" not to be scored, to show the opt-out at work
DEMO_OPT_OUTS = 2
#: the sandbox vendors' real limits (PeerIndex 1/s, Empire Avenue 150/hour) would make a demo take
#: an hour; both sides agree on a generous one instead
DEMO_RATE_LIMIT = "1000/s"
DEMO_CONCURRENCY = 8
#: the file that marks a folder as the demo's own (it rewrites its inputs and history there)
MARKER = ".influence-aggregator-demo"
_CONFIG_HEADER = "# The config the demo ran with."


@dataclass(frozen=True)
class DemoResult:
    result: RunResult
    config_path: Path
    report_path: Path


def demo_home() -> Path:
    """Where the demo keeps its inputs, history and report (the user data dir)."""
    from platformdirs import user_data_path

    return user_data_path("influence-aggregator", appauthor=False) / "demo"


async def run_demo(directory: Path, *, subjects: int = DEFAULT_SUBJECTS, seed: int = 0, out: Path | None = None,
                   progress: ProgressCallback | None = None) -> DemoResult:
    """Run the demo's two snapshots into ``directory`` (its history starts afresh) and write the report."""
    from adapters.sandbox.launch import launch
    from adapters.sandbox.population import sample_population
    from aggregator.app.api import Aggregator
    from aggregator.app.config import config_from_dict

    if subjects < 1:
        raise ValueError(f"--subjects must be at least 1, got {subjects}")
    population = sample_population(subjects + DEMO_OPT_OUTS, seed=seed)
    _write_inputs(directory, population)
    report = (out or directory / "report.html").resolve()
    vendors = ["klout", "peerindex", "kred", "empireavenue"]
    async with launch(vendors, version=1, seed=seed, population=population,
                      limits=dict.fromkeys(vendors, DEMO_RATE_LIMIT)) as sandbox:
        data: dict[str, Any] = sandbox.config(roster="roster.csv", store="history.sqlite", report=str(report))
        data["roster"]["opt_out"] = "opt-out.txt"
        data["indices"]["inhouse"] = {"adapter": "inhouse", "options": {
            "features": "features.csv", "match": "handle:twitter", "key_column": "screen_name"}}
        data["report"]["title"] = "Influence report (demo data)"
        # people's judgments between demo people; the packaged in-house model was fitted on them
        data["validation"] = {"judgments": "judgments.csv", "in_sample": ["inhouse"]}
        for index in data["indices"].values():
            index["concurrency"] = DEMO_CONCURRENCY
        config_path = directory / "config.toml"
        _write_config(config_path, data)
        config = config_from_dict(data, base_dir=directory, source=str(config_path))
        await Aggregator(config).run(progress=progress)
        sandbox.set_version(2)  # the vendors recalibrate between the two snapshots
        # vendors do not say which algorithm scored a reply: a user declares an announced change
        data["indices"]["klout"].setdefault("options", {})["algorithm_version"] = "2"
        _write_config(config_path, data)
        config = config_from_dict(data, base_dir=directory, source=str(config_path))
        result = await Aggregator(config).run(progress=progress)
    return DemoResult(result, config_path, result.write(report))


def claim_folder(directory: Path) -> None:
    """Make ``directory`` the demo's, or refuse: the demo rewrites its config, roster, opt-out list
    and history there, so it never uses a folder holding anything it did not create."""
    if directory.exists() and not directory.is_dir():
        raise ConfigError(f"--dir {directory} is a file; choose a new or empty folder with --dir")
    if directory.is_dir() and any(directory.iterdir()) and not _is_demo_folder(directory):
        found = ", ".join(sorted(p.name for p in directory.iterdir())[:5])
        raise ConfigError(f"--dir {directory} holds files the demo did not create ({found}); it would overwrite "
                          "them. Choose a new or empty folder with --dir, or leave --dir out to use the default")
    directory.mkdir(parents=True, exist_ok=True)
    write_atomic(directory / MARKER, "This folder belongs to `aggregator demo`, which rewrites its files.\n")


def _is_demo_folder(directory: Path) -> bool:
    if (directory / MARKER).is_file():
        return True
    try:  # made by a version from before the marker: its config says so on the first line
        with (directory / "config.toml").open(encoding="utf-8") as handle:
            return handle.readline().startswith(_CONFIG_HEADER)
    except (OSError, UnicodeDecodeError):
        return False


def _write_inputs(directory: Path, population: Population) -> None:
    """Roster and opt-out list; the history starts afresh (before any server runs: blocking is fine)."""
    import numpy as np

    from adapters.sandbox.population import write_judgments, write_roster
    from aggregator.scoring.features import write_features

    claim_folder(directory)
    for stale in directory.glob("history.sqlite*"):
        stale.unlink()
    write_roster(population, directory / "roster.csv")
    write_judgments(population, directory / "judgments.csv")
    write_atomic(
        directory / "opt-out.txt",
        "# people who asked not to be scored: never fetched, stored or shown\n"
        + "".join(f"{pid}\n" for pid in population.ids[-DEMO_OPT_OUTS:]),
    )
    # the in-house score's inputs: activity features, and none for the opted-out people
    kept = population.take(np.arange(len(population.ids) - DEMO_OPT_OUTS))
    write_features(directory / "features.csv", kept.handles, np.asarray(kept.features),
                   key_column="screen_name", feature_names=kept.feature_names)


def _write_config(path: Path, data: dict[str, Any]) -> None:
    import tomli_w

    write_atomic(
        path,
        f"{_CONFIG_HEADER} Its vendors are the sandbox servers the demo started and\n"
        "# stopped; `aggregator sandbox` runs them on their own and prints a config for them.\n"
        + tomli_w.dumps(data),
    )
