from __future__ import annotations

import gzip

import pytest
from pydantic import ValidationError

from adapters.files import FilesAdapter, FilesConfig
from aggregator.models import Failure, FailureKind, Reading, Subject

SUBJECTS = [
    Subject(id="ann", name="Ann", handles={"twitter": "ann_a"}),
    Subject(id="bob", name="Bob", handles={"twitter": "bobb"}),
    Subject(id="cy", name="Cy", handles={"twitter": "cychan"}),
    Subject(id="dee", name="Dee"),
]


async def _fetch(path, **options):
    adapter = FilesAdapter("vendor", FilesConfig(path=path, **options))
    items = [item async for item in adapter.fetch(SUBJECTS)]
    return {item.subject_id: item for item in items}


async def test_good_csv_by_handle_with_components_and_topics(write):
    path = write("k.csv", """
        screen_name,score,reach,topics
        @Ann_A,81.5,900,bacon; jazz
        bobb,40,,
    """)
    got = await _fetch(path, match="handle:twitter", key_column="screen_name", components={"reach": "reach"},
                       topics_column="topics", scale=(1, 100), algorithm_version="2")
    ann = got["ann"]
    assert isinstance(ann, Reading)
    assert (ann.value, ann.raw, ann.components, ann.topics) == (81.5, "81.5", {"reach": 900.0}, ("bacon", "jazz"))
    assert ann.algorithm_version == "2" and ann.scale.hi == 100
    assert isinstance(got["bob"], Reading) and got["bob"].components == {}
    assert got["cy"].kind is FailureKind.NOT_FOUND and "'cychan'" in got["cy"].message
    assert got["dee"].kind is FailureKind.NOT_FOUND and "no handle:twitter" in got["dee"].message


async def test_malformed_rows_name_file_line_and_column_and_the_rest_is_read(write):
    path = write("k.csv", """
        id,score
        ann,12
        bob,twelve
        cy,500
        ,7
        dee,1,2
    """)
    got = await _fetch(path, scale=(0, 100))
    assert got["ann"].value == 12
    assert got["bob"].kind is FailureKind.BAD_PAYLOAD
    assert "k.csv:3: column 'score': expected a number, got 'twelve'" in got["bob"].message
    assert got["cy"].kind is FailureKind.OUT_OF_RANGE  # never clipped
    assert got["dee"].kind is FailureKind.NOT_FOUND  # its row was unreadable
    index_level = got[None]
    assert isinstance(index_level, Failure)
    assert "k.csv:5: column 'id' is empty" in index_level.message
    assert "k.csv:6: more cells" in index_level.message


async def test_jsonl_with_nested_fields_string_numbers_and_bad_lines(write):
    path = write("p.jsonl", """
        {"id": "ann", "pi": {"score": "70"}}
        {"id": "bob", "pi": {"score": null}}
        not json at all
        [1, 2]
        {"id": "cy", "pi": {"score": 35}}
        {"id": "cy", "pi": {"score": 36}}
    """)
    got = await _fetch(path, value_column="pi.score")
    assert got["ann"].value == 70.0 and got["ann"].raw == "70"
    assert got["bob"].kind is FailureKind.BAD_PAYLOAD and "p.jsonl:2" in got["bob"].message
    assert got["cy"].kind is FailureKind.BAD_PAYLOAD and "lines 5, 6" in got["cy"].message
    assert "p.jsonl:3: not valid JSON" in got[None].message
    assert "p.jsonl:4: expected a JSON object" in got[None].message


async def test_gzip_export(tmp_path):
    path = tmp_path / "k.csv.gz"
    path.write_bytes(gzip.compress(b"id,score\nann,5\n"))
    assert (await _fetch(path))["ann"].value == 5


async def test_missing_file_fails_every_subject_without_raising(tmp_path):
    got = await _fetch(tmp_path / "gone.csv")
    assert {got[s.id].kind for s in SUBJECTS} == {FailureKind.BAD_PAYLOAD}
    assert "cannot read gone.csv" in got[None].message


def test_config_is_strict(tmp_path):
    with pytest.raises(ValidationError):
        FilesConfig(path=tmp_path / "x.csv", match="twitter")
    assert FilesConfig(path=tmp_path / "x.ndjson").file_format == "jsonl"
    assert FilesConfig(path=tmp_path / "x.csv.gz").file_format == "csv"
