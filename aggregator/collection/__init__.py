"""Collection: the roster in, every index asked concurrently, every answer kept in SQLite.

- ``roster``: the roster and opt-out files, read and checked line by line;
- ``collect``: runs the adapters concurrently (rate limits, retries, breaker, deadlines, progress);
- ``resume``: which (index, subject) pairs a run still has to ask;
- ``store``: the SQLite history of runs, readings, failures, deliveries;
- ``privacy``: erasing a subject from the store.

Imports only the contracts at the top of ``aggregator`` (models, errors, plugins, ratelimit);
never analytics, the app, the CLI or the plugin packages.
"""
