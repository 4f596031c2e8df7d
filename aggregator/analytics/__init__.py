"""Analytics: everything computed after the store, pure numpy on ``[subjects × indices]`` arrays.

- ``normalize``: raw scores to a common scale (percentile, range, robust z, quantile map);
- ``consensus``: consensus standing, its spread and the dissenting index;
- ``compare``: the whole comparison (``ScoreTable`` in, ``Comparison`` out), calling
  ``agreement`` (indices against each other), ``inversions`` (pairs ordered oppositely),
  ``shifts`` (changes since a previous run, recalibrations) and ``topics``;
- ``outcome``: a comparison with what a report needs to explain it (``RunOutcome``);
- ``_arrays``: the shared rank and row kernels.

Imports only ``aggregator.models`` and ``aggregator.errors``: no I/O, no collection, app, CLI
or report module. The reports read its results.
"""
