"""The application: the stages wired together, as the Python API and the command use them.

- ``config``: the TOML config, validated into models;
- ``pipeline``: collect -> store -> compare, as plain function calls;
- ``history``: runs read back from the store (a run's outcome, a subject over runs);
- ``activity``: the roster's activity features for the index fingerprints;
- ``api``: ``Aggregator``, ``run_report`` and ``render``, behind ``import aggregator``;
- ``eventloop``: the loop the command's runs go on (uvloop where installed);
- ``demo``: the whole pipeline on bundled data and the sandbox vendors;
- ``schedule``: cron schedules with at-most-once delivery per slot.

May import the contracts, ``collection``, ``analytics`` and ``scoring``; the plugin packages
(``adapters``, ``reports``) only lazily, inside the functions that need them. Never the CLI.
"""
