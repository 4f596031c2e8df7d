from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from aggregator.models import Failure, FailureKind, IndexSpec, Reading, Scale, Subject, reading


def test_subject_id_must_not_be_blank_and_error_names_field_and_value():
    with pytest.raises(ValidationError) as info:
        Subject(id="  padded ", name="X")
    error = info.value.errors()[0]
    assert error["loc"] == ("id",)
    assert error["input"] == "  padded "
    assert "'  padded '" in str(info.value)


def test_models_are_immutable_and_refuse_unknown_fields():
    subject = Subject(id="ann", name="Ann")
    with pytest.raises(ValidationError):
        subject.name = "Other"  # type: ignore[misc]
    with pytest.raises(ValidationError) as info:
        Subject(id="ann", name="Ann", nickname="A")  # type: ignore[call-arg]
    assert info.value.errors()[0]["loc"] == ("nickname",)


@pytest.mark.parametrize(("lo", "hi"), [(1, None), (100, 1), (5, 5), (float("nan"), 3)])
def test_scale_rejects_half_open_inverted_or_non_finite_bounds(lo, hi):
    with pytest.raises(ValidationError):
        Scale(lo=lo, hi=hi)


def test_reading_outside_its_scale_is_refused_with_the_value():
    with pytest.raises(ValidationError) as info:
        Reading(index="klout", subject_id="ann", value=101.0, scale=Scale(lo=1, hi=100))
    assert "101" in str(info.value)
    assert "1-100" in str(info.value)


def test_reading_value_must_be_finite():
    with pytest.raises(ValidationError, match="finite"):
        Reading(index="klout", subject_id="ann", value=float("inf"))


def test_index_name_is_a_short_lowercase_key():
    with pytest.raises(ValidationError) as info:
        IndexSpec(name="Klout Score")
    assert info.value.errors()[0]["loc"] == ("name",)


def test_failure_kinds_and_their_meaning():
    assert {k.value for k in FailureKind} >= {
        "auth", "rate_limited", "timeout", "server_error", "bad_payload", "out_of_range", "not_found"}
    assert FailureKind.NOT_FOUND.is_coverage_gap and not FailureKind.TIMEOUT.is_coverage_gap
    assert FailureKind.NOT_FOUND.is_final and not FailureKind.TIMEOUT.is_final
    with pytest.raises(ValidationError) as info:
        Failure(index="kred", subject_id="ann", kind="exploded", message="x")  # type: ignore[arg-type]
    assert info.value.errors()[0]["loc"] == ("kind",)


def _fields(**changes):
    fields = {"index": "klout", "subject_id": "ann", "value": 61.5, "raw": "61.5", "scale": Scale(lo=1, hi=100),
              "algorithm_version": "2", "components": {"reach": 7.0}, "topics": ("tea",),
              "fetched_at": datetime(2026, 1, 2, tzinfo=UTC)}
    return {**fields, **changes}


@pytest.mark.parametrize("changes", [
    {},  # the plain case, checked without pydantic
    {"value": 61, "components": {"reach": 7}, "topics": ["tea"]},  # converted by pydantic, as before
    {"raw": None, "components": {}, "topics": ()},
])
def test_reading_builds_what_pydantic_builds(changes):
    built = reading(_fields(**changes))
    expected = Reading(**_fields(**changes))
    assert built == expected and built.model_dump() == expected.model_dump()
    assert type(built.value) is float and type(built.topics) is tuple


@pytest.mark.parametrize(("changes", "field"), [
    ({"subject_id": " ann"}, "subject_id"), ({"subject_id": "a\nb"}, "subject_id"), ({"subject_id": ""}, "subject_id"),
    ({"subject_id": "a" * 201}, "subject_id"), ({"index": "Klout"}, "index"), ({"value": 101.0}, "scale"),
    ({"value": float("nan")}, "finite"), ({"components": {"reach": "much"}}, "components"),
    ({"topics": ("tea", 3)}, "topics"),
])
def test_reading_refuses_what_pydantic_refuses(changes, field):
    with pytest.raises(ValidationError, match=field):
        reading(_fields(**changes))
