"""The ``aggregator`` command's exit codes, shared by every command."""

from __future__ import annotations

#: all went well
EXIT_OK = 0
#: the run finished, but some fetches failed (the report's "index health" shows them)
EXIT_FAILURES = 1
#: bad input or config
EXIT_BAD_INPUT = 2
#: the history database cannot be used (damaged, disk full, read-only, locked): nothing was
#: reported; the message says what to do
EXIT_STORE = 3
#: a report was not delivered: not written, or not accepted by the mail server (or a scheduled
#: slot ended failed); the delivery log says why (``aggregator deliveries``)
EXIT_DELIVERY = 4
#: interrupted (Ctrl-C); everything fetched so far is stored
EXIT_INTERRUPTED = 130
