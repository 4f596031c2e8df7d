"""The ``aggregator`` command (``main``), one module per group of sub-commands.

- ``main``: the parser, ``demo``, ``run``, ``schedule`` and ``validate-config``;
- ``stored``: ``history``, ``runs`` and ``forget``, on the history database;
- ``deliver``: ``run --email/--eml/--slot``, ``demo --eml`` and the ``schedule`` loop;
- ``sandbox``: ``sandbox``, the loopback vendor servers;
- ``scorer``: ``scorer fit|evaluate|graph``, the in-house scorer;
- ``parquet``: ``export`` (a run as Parquet) and ``compare --engine spark|numpy`` (docs/spark.md);
- ``progress``: the progress bars; ``exits``: the exit codes every command shares.

Each command module adds its own sub-commands with ``register(commands)``. The CLI may import
any part of ``aggregator`` and, lazily, the plugin packages; nothing but ``aggregator.__main__``
imports the CLI.
"""

from __future__ import annotations

from aggregator.cli.main import main

__all__ = ["main"]
