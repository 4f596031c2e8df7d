"""Runs as Parquet: ``export`` (a stored run, from one store or the N stores of a sharded roster)
and ``compare --engine spark`` (the comparison on Apache Spark, from an exported run).

pyarrow and pyspark are the optional ``spark`` extra; they load only inside these commands.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from aggregator.cli.exits import EXIT_OK
from aggregator.cli.stored import add_store_options, store_path
from aggregator.errors import ConfigError

ENGINES = ("numpy", "spark")


def register(commands: Any) -> None:
    """Add ``export`` and ``compare`` to the ``aggregator`` command's sub-commands."""
    export = commands.add_parser(
        "export", help="write a stored run as Parquet (for the Spark engine)",
        description="Write a run's subjects, index specs, readings and failures as Parquet in the layout of "
                    "docs/spark.md. Several --store give the shards of one roster: they are written as one run.",
    )
    export.add_argument("run", metavar="RUN", help="the run id (see `aggregator runs`)")
    add_store_options(export, shards=True)
    export.add_argument("--parquet", type=Path, required=True, metavar="DIR", help="the folder to write")
    export.add_argument("--overwrite", action="store_true", help="replace an earlier export in DIR")
    export.set_defaults(handler=_export)

    compare = commands.add_parser(
        "compare", help="compare an exported run (on Apache Spark with --engine spark)",
        description="Normalize an exported run, compute each subject's consensus, IQR, spread and dissenter, "
                    "the agreement matrix, leave-one-out robustness, each index's health, the top inversions, "
                    "the topics' overlap and, with --previous, the changes since an earlier run; write the "
                    "per-subject figures as Parquet and the summary as JSON (`aggregator report --from` "
                    "renders the reports from them). "
                    "The Spark engine runs wherever SPARK_HOME / spark-submit points (local[*] by default).",
    )
    compare.add_argument("--engine", choices=ENGINES, default="spark", help="where to compute (default: spark)")
    # plain strings: a URL such as s3a://bucket/run must keep its double slash
    compare.add_argument("--run", required=True, metavar="DIR", help="an exported run (any path Spark reads)")
    compare.add_argument("--out", required=True, metavar="DIR", help="where to write the results (the same)")
    compare.add_argument("--method", default="percentile", help="normalizer (default: percentile)")
    compare.add_argument("--consensus", default="median", help="median (default), trimmed_mean or borda")
    compare.add_argument("--threshold", type=float, default=None, metavar="POINTS",
                         help="flag the subjects whose spread exceeds POINTS (default: those whose spread is "
                              "unusual for this roster, as the product's reports flag them)")
    compare.add_argument("--previous", metavar="PREV_DIR",
                         help="an exported earlier run: add the shifts since it (raw, standing and consensus "
                              "changes, movers, recalibrated indices)")
    compare.add_argument("--master", help="Spark master URL (default: from spark-submit, else local[*])")
    compare.set_defaults(handler=_compare)


def _export(args: argparse.Namespace) -> int:
    from aggregator.app.export import export_run

    if args.store and len(args.store) > 1:
        stores = list(args.store)
    else:
        stores = [store_path(argparse.Namespace(config=args.config, store=args.store[0] if args.store else None))]
    done = export_run(stores, args.run, args.parquet, overwrite=args.overwrite)
    print(f"{done.directory}: run {done.run_id}, {done.subjects} subjects, {done.indices} indices, "
          f"{done.readings} readings, {done.failures} failures")
    return EXIT_OK


def _compare(args: argparse.Namespace) -> int:
    from aggregator.app.engines import compare_exported

    for flag, folder in (("--run", args.run), ("--previous", args.previous)):
        if folder is not None and "://" not in folder and not (Path(folder) / "run.json").exists():
            raise ConfigError(f"{flag} {folder} is not an exported run: no run.json "
                              "(write one with `aggregator export`)")
    summary = compare_exported(args.engine, args.run, args.out, method=args.method, consensus=args.consensus,
                               threshold=args.threshold, master=args.master, previous=args.previous)
    print(json.dumps({"out": args.out, "subjects": summary["subjects"], "indices": summary["indices"],
                      "alpha": summary["agreement"]["alpha"]}))
    return EXIT_OK


