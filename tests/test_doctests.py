"""The examples in our docstrings run and say what they show."""

from __future__ import annotations

import doctest
import importlib
import importlib.util
import pkgutil

import pytest

PACKAGES = ("aggregator", "adapters", "reports")
MODULES = sorted(
    info.name
    for package in PACKAGES
    for info in pkgutil.walk_packages(importlib.import_module(package).__path__, f"{package}.")
    if not info.name.endswith("__main__")
) + list(PACKAGES)


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    try:
        module = importlib.import_module(name)
    except ModuleNotFoundError as missing:  # the Spark modules (analytics engine, scorer's PageRank)
        if (missing.name or "").split(".")[0] != "pyspark" or importlib.util.find_spec("pyspark") is not None:
            raise
        pytest.skip("the Spark engine needs the optional 'spark' extra: pip install '.[spark]'")
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.failed == 0
