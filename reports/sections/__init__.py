"""The report's sections: one module per section, named as its template in ``templates/sections/``.

Each module holds its section's view classes (frozen, already rounded and labelled) and the
functions that build them from a comparison; :func:`reports.model.build_view` calls them and
assembles the whole :class:`~reports.model.ReportView`. What several sections share (the base
model, summary lines, rounding and the wording of standings) is in ``_common``. A section module
imports ``_common``, ``aggregator`` and, where one section sums up another, that section's module
(the headline quotes the disagreements); never :mod:`reports.model`. Importing this package
imports nothing.
"""
