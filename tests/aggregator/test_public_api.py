from __future__ import annotations

import types

import pytest

import aggregator


def test_all_lists_exactly_the_public_names():
    for name in aggregator.__all__:
        assert getattr(aggregator, name) is not None
    plumbing = {"annotations", "Any", "TYPE_CHECKING"}  # what the package module itself imports
    public = {
        name for name, value in vars(aggregator).items()
        if not name.startswith("_") and not isinstance(value, types.ModuleType) and name not in plumbing
    }
    assert public | {"__version__"} == set(aggregator.__all__)


def test_verbs_stay_functions_after_their_modules_are_imported():
    import aggregator.analytics.compare
    import aggregator.analytics.normalize
    import aggregator.collection.collect

    for verb in ("collect", "compare", "normalize"):
        assert isinstance(getattr(aggregator, verb), types.FunctionType)
    assert aggregator.compare({"a": {"x": 1, "y": 2}, "b": {"x": 2, "y": 1}}).spread.tolist() == [50.0, 50.0]


def test_unknown_attribute_is_an_attribute_error():
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        aggregator.nope  # noqa: B018
