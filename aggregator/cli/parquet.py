"""Runs as Parquet: ``export`` (a stored run, from one store or the N stores of a sharded roster)
and ``compare --engine spark`` (the comparison on Apache Spark, from an exported run).

pyarrow and pyspark are the optional ``spark`` extra; they load only inside these commands.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from aggregator.cli.exits import EXIT_OK


def register(commands: Any) -> None:
    """Add ``export`` to the ``aggregator`` command's sub-commands."""
    export = commands.add_parser(
        "export", help="write a stored run as Parquet (for the Spark engine)",
        description="Write a run's subjects, index specs, readings and failures as Parquet in the layout of "
                    "docs/spark.md. Several --store give the shards of one roster: they are written as one run.",
    )
    export.add_argument("run", metavar="RUN", help="the run id (see `aggregator runs`)")
    where = export.add_mutually_exclusive_group()
    where.add_argument("-c", "--config", type=Path, help="read the store named in this config")
    where.add_argument("--store", type=Path, action="append", metavar="DB",
                       help="a history database; repeat for each shard (default: the demo's)")
    export.add_argument("--parquet", type=Path, required=True, metavar="DIR", help="the folder to write")
    export.add_argument("--overwrite", action="store_true", help="replace an earlier export in DIR")
    export.set_defaults(handler=_export)


def _export(args: argparse.Namespace) -> int:
    from aggregator.app.export import export_run
    from aggregator.cli.stored import store_path

    if args.store and len(args.store) > 1:
        stores = list(args.store)
    else:
        stores = [store_path(argparse.Namespace(config=args.config, store=args.store[0] if args.store else None))]
    done = export_run(stores, args.run, args.parquet, overwrite=args.overwrite)
    print(f"{done.directory}: run {done.run_id}, {done.subjects} subjects, {done.indices} indices, "
          f"{done.readings} readings, {done.failures} failures")
    return EXIT_OK

