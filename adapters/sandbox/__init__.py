"""Loopback emulations of the vanished influence vendors, for the demo, tests and benchmarks.

Klout, PeerIndex, Kred and Empire Avenue are gone, so the sandbox scores a population of
real, anonymized Twitter accounts (``population``) the way each vendor said it scored people
(``formulas``). The indices then disagree the way the real ones did, for reasons a report can
explain: Klout rewards activity as well as reactions, PeerIndex ranks authority and receptive
audience against everyone else, Kred counts points for reactions, Empire Avenue prices shares
for the active minority who joined it. ``servers`` speak each vendor's API on 127.0.0.1 and
``launch`` starts them in-process (``aggregator sandbox`` runs them on their own). Nothing here
is a real person's real score.
"""
