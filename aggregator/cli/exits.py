"""The ``aggregator`` command's exit codes, shared by every command."""

from __future__ import annotations

#: all went well
EXIT_OK = 0
#: the run finished, but some fetches failed (the report's "index health" shows them)
EXIT_FAILURES = 1
#: bad input or config
EXIT_BAD_INPUT = 2
#: the history database cannot be used (damaged, disk full, read-only, locked): nothing was
#: reported; the message says what to do (4 is kept for delivery)
EXIT_STORE = 3
#: interrupted (Ctrl-C); everything fetched so far is stored
EXIT_INTERRUPTED = 130
