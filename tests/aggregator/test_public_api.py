from __future__ import annotations

import aggregator


def test_all_lists_exactly_the_public_names():
    public = set(aggregator._HOME) | {"__version__"}
    assert sorted(aggregator.__all__) == sorted(public)
    for name in aggregator.__all__:
        assert getattr(aggregator, name) is not None


def test_unknown_attribute_is_an_attribute_error():
    import pytest

    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        aggregator.nope  # noqa: B018
