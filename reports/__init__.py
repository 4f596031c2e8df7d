"""Reports: turn a finished run into documents people read.

One direction only: ``aggregator`` computes numbers, :mod:`reports.model` turns them into a
view-model of already-rounded, already-labelled values (one module per report section in
:mod:`reports.sections`), and the renderers lay that view out:

- :mod:`reports.web` (``html``): one standalone HTML page, readable without JavaScript;
- :mod:`reports.text` (``text``): a fixed-width plain-text summary;
- :mod:`reports.json` (``json``): the view-model itself, as JSON.

Renderers are found by name through the ``aggregator.renderers`` entry points, ours included;
:func:`reports.render.render` picks one and hands it the view. Importing this package imports
nothing else, so ``import reports`` is cheap.
"""
