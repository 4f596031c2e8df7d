"""The embedded demo: a real run on bundled data, with no network and no config.

The roster is a sample of real (anonymized) Twitter accounts shipped with the package; each
vendor's export is computed from their activity by the vendor formulas in
``adapters.sandbox.formulas`` (the same ones the sandbox vendor servers use), written as the
CSV/JSONL files a user would export, and read back through the ``files`` adapter. Beyond the
bundled population, subjects are resampled from the same distributions and marked synthetic.
The demo writes a real ``config.toml`` beside its inputs, so ``aggregator run -c`` reruns it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

DEFAULT_SUBJECTS = 500
#: demo subjects that "asked" not to be scored, to show the opt-out at work
DEMO_OPT_OUTS = 2


def demo_home() -> Path:
    """Where the demo keeps its inputs, history and report (the user data dir)."""
    from platformdirs import user_data_path

    return user_data_path("influence-aggregator", appauthor=False) / "demo"


def prepare(directory: Path, *, subjects: int = DEFAULT_SUBJECTS, seed: int = 0,
            store: Path | None = None, out: Path | None = None) -> Path:
    """Write the demo's roster, vendor exports, opt-out list and config; return the config path."""
    import tomli_w

    from adapters.sandbox.exports import write_exports, write_roster
    from adapters.sandbox.population import sample_population

    if subjects < 1:
        raise ValueError(f"--subjects must be at least 1, got {subjects}")
    population = sample_population(subjects + DEMO_OPT_OUTS, seed=seed)
    directory.mkdir(parents=True, exist_ok=True)
    write_roster(population, directory / "roster.csv")
    exports = write_exports(population, directory / "exports", version=1)
    (directory / "opt-out.txt").write_text(
        "# people who asked not to be scored: never fetched, stored or shown\n"
        + "".join(f"{pid}\n" for pid in population.ids[-DEMO_OPT_OUTS:]),
        encoding="utf-8",
    )
    config: dict[str, Any] = {
        "store": {"path": str(store or directory / "history.sqlite")},
        "roster": {"path": "roster.csv", "opt_out": "opt-out.txt"},
        "report": {"out": str(out or directory / "report.html"), "title": "Influence report (demo data)"},
        "indices": {
            name: {
                "adapter": "files",
                "options": {
                    "path": str(info.path.relative_to(directory)), "match": "handle:twitter",
                    "key_column": info.key_column, "value_column": info.value_column,
                    "components": info.components,
                    **({"topics_column": info.topics_column} if info.topics_column else {}),
                    **({"scale": list(info.scale)} if info.scale else {}),
                    "higher_is_better": info.higher_is_better,
                    "algorithm_version": info.algorithm_version, "measures": info.measures,
                    "label": info.label,
                },
            }
            for name, info in exports.items()
        },
    }
    path = directory / "config.toml"
    path.write_text(tomli_w.dumps(config), encoding="utf-8")
    return path
