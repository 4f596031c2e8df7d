from __future__ import annotations

import gzip
import tracemalloc

import pytest
from pydantic import ValidationError

from adapters import _export_rows as export_rows
from adapters.files import FilesAdapter, FilesConfig
from aggregator.models import Failure, FailureKind, Reading, Subject, Subjects

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


async def test_a_key_repeated_in_another_block_fails_its_subjects_and_the_rest_is_read(write, monkeypatch):
    # the export is read in blocks: a key's second row far below its first must still be seen
    monkeypatch.setattr(export_rows, "BLOCK_ROWS", 2)
    path = write("k.csv", """
        id,score,reach
        ann,10,1
        bob,20,

        cy,30,3
        zed,1,1
        ann,11,1
    """)
    got = await _fetch(path, components={"reach": "reach"})
    assert got["ann"].kind is FailureKind.BAD_PAYLOAD and "2 rows for 'ann' (lines 2, 7)" in got["ann"].message
    assert (got["bob"].value, got["bob"].components) == (20.0, {})
    assert (got["cy"].value, got["cy"].components) == (30.0, {"reach": 3.0})
    assert got["dee"].kind is FailureKind.NOT_FOUND
    assert None not in got


async def test_values_checked_by_column_fail_only_their_own_row_with_its_line_and_column(write):
    path = write("p.jsonl", """
        {"id": "ann", "score": true}
        {"id": "bob", "score": "nan", "reach": 1}
        {"id": "cy", "score": 5, "reach": "lots"}
        {"id": "dee", "score": "1e400"}
    """)
    got = await _fetch(path, components={"reach": "reach"}, scale=(0, 100))
    assert "p.jsonl:1: column 'score': expected a number, got True" in got["ann"].message
    assert "p.jsonl:2: column 'score': expected a number, got 'nan'" in got["bob"].message
    assert "p.jsonl:3: column 'reach': expected a number, got 'lots'" in got["cy"].message
    assert "p.jsonl:4: column 'score'" in got["dee"].message
    assert {item.kind for item in got.values()} == {FailureKind.BAD_PAYLOAD}


async def test_readings_built_from_checked_columns_equal_validated_ones(write):
    path = write("k.csv", "id,score,reach,topics\n ann , 81.5 ,900,bacon; jazz\n")
    got = (await _fetch(path, components={"reach": "reach"}, topics_column="topics", scale=(1, 100)))["ann"]
    again = Reading.model_validate(got.model_dump())
    assert got == again and got.model_dump_json() == again.model_dump_json()
    assert (got.value, got.raw, got.topics) == (81.5, "81.5", ("bacon", "jazz"))
    with pytest.raises(ValueError, match="exactly the fields"):
        Reading.checked({"index": "vendor", "subject_id": "ann", "value": 1.0})


async def test_a_large_export_is_read_in_blocks_not_held_whole(tmp_path, monkeypatch):
    """Memory follows the block and the subjects asked, not the export (a million rows took gigabytes)."""
    monkeypatch.setattr(export_rows, "BLOCK_ROWS", 1000)
    path = tmp_path / "big.csv"
    rows = 200_000
    path.write_text("id,score,reach\n" + "".join(f"p{i},{i % 97}.5,{i}\n" for i in range(rows)))
    adapter = FilesAdapter("vendor", FilesConfig(path=path, components={"reach": "reach"}))
    asked = [Subject(id=f"p{i}", name="P") for i in range(0, rows, rows // 10)]
    tracemalloc.start()
    try:
        got = [item async for item in adapter.fetch(asked)]
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    values = [item.value for item in got if isinstance(item, Reading)]
    assert values == [(i % 97) + 0.5 for i in range(0, rows, rows // 10)]
    assert peak < path.stat().st_size / 2, f"peak {peak} bytes for a {path.stat().st_size}-byte export"


def _answers(items):
    """Each answer by subject, without the clock's fields."""
    return {item.subject_id: item.model_dump(exclude={"fetched_at", "at"}) for item in items}


async def test_a_columnar_roster_gets_the_same_answers_as_its_subjects(write):
    """A roster read from a file is handed over as columns: every answer, message and order alike."""
    path = write("k.csv", """
        screen_name,score
        ANN_A,10
        bobb,x
        bobb,12
        nobody,3
    """)
    adapter = FilesAdapter("vendor", FilesConfig(path=path, match="handle:twitter", key_column="screen_name"))
    as_models = [item async for item in adapter.fetch(SUBJECTS)]
    as_columns = [item async for item in adapter.fetch(Subjects.of(SUBJECTS))]
    assert [i.subject_id for i in as_columns] == [i.subject_id for i in as_models]
    assert _answers(as_columns) == _answers(as_models)
    got = _answers(as_columns)
    assert got["ann"]["value"] == 10.0
    assert "k.csv has 2 rows for 'bobb' (lines 3, 4)" in got["bob"]["message"]
    assert "k.csv has no row for 'cychan'" in got["cy"]["message"]
    assert got["dee"]["kind"] is FailureKind.NOT_FOUND and "no handle:twitter" in got["dee"]["message"]


async def test_subjects_sharing_a_key_each_get_its_row_or_its_lines(write):
    # the roster refuses a handle on two lines, but an adapter may be given any subjects
    path = write("k.csv", """
        screen_name,score
        @Same,5
        twice,1
        TWICE,2
    """)
    subjects = [Subject(id="a", name="A", handles={"twitter": "same"}), Subject(id="b", name="B"),
                Subject(id="c", name="C", handles={"twitter": "SAME"}),
                Subject(id="d", name="D", handles={"twitter": "Twice"}),
                Subject(id="e", name="E", handles={"twitter": "twice"})]
    adapter = FilesAdapter("vendor", FilesConfig(path=path, match="handle:twitter", key_column="screen_name"))
    got = {item.subject_id: item async for item in adapter.fetch(Subjects.of(subjects))}
    assert (got["a"].value, got["c"].value) == (5.0, 5.0)
    assert "2 rows for 'Twice' (lines 3, 4)" in got["d"].message
    assert "2 rows for 'twice' (lines 3, 4)" in got["e"].message
    assert got["b"].kind is FailureKind.NOT_FOUND and set(got) == {"a", "b", "c", "d", "e"}


async def test_an_export_spoiled_while_it_is_read_fails_only_the_subjects_not_yet_answered(tmp_path, monkeypatch):
    monkeypatch.setattr(export_rows, "BLOCK_ROWS", 10)
    path = tmp_path / "k.csv"
    rows = 20_000  # far more than one buffer of the open file: the rest is read after the damage
    path.write_text("id,score\n" + "".join(f"p{i},{i}\n" for i in range(rows)))
    subjects = Subjects.of(Subject(id=f"p{i}", name="P") for i in range(0, rows, 100))
    adapter = FilesAdapter("vendor", FilesConfig(path=path))
    got = []
    async for item in adapter.fetch(subjects):
        if not got:  # the second pass has begun: the same file is overwritten with bytes that are no UTF-8
            with path.open("r+b") as handle:
                handle.write(b"\xff" * path.stat().st_size)
        got.append(item)
    read = [item for item in got if isinstance(item, Reading)]
    spoiled = [item for item in got if isinstance(item, Failure)]
    assert read and spoiled and len(got) == len(subjects)  # one answer each, no subject twice
    assert [item.value for item in read] == [float(i) for i in range(0, 100 * len(read), 100)]
    assert all(item.message == "vendor: k.csv could not be read" for item in spoiled)
    assert [item.subject_id for item in spoiled] == list(subjects.ids[len(read):])


def test_a_columnar_roster_without_the_matched_network_is_refused_naming_its_networks(write):
    path = write("k.csv", "screen_name,score\nann,1\n")
    adapter = FilesAdapter("vendor", FilesConfig(path=path, match="handle:mastodon", key_column="screen_name"))
    problems = adapter.check_inputs(Subjects.of(SUBJECTS))
    assert [p.where for p in problems] == ["indices.vendor.options.match"]
    assert "no 'mastodon' column" in problems[0].message and "(its networks: twitter)" in problems[0].message
    assert adapter.check_inputs(SUBJECTS) == problems
