"""The pickle (default) and json managers on the local disk."""

from __future__ import annotations

import datetime
from pathlib import Path

import pytest

from flowstone_cli.errors import CorruptInputError, IOManagerError
from flowstone_cli.io import JsonIOManager, PickleIOManager, StoreContext

REPORT = StoreContext(asset="report")
DAY = StoreContext(asset="events", partition="2025-01-15", partition_path="2025-01-15",
                   run_id="run-1")


def test_pickle_round_trip_of_any_picklable_value(tmp_path: Path) -> None:
    manager = PickleIOManager(str(tmp_path))
    value = {"when": datetime.date(2025, 1, 15), "ids": {1, 2, 3}, "raw": b"\x00\x01"}
    stored = manager.store(DAY, value)
    assert stored.uri == str(tmp_path / "events" / "2025-01-15.pkl")
    assert manager.load(DAY) == value


def test_pickle_reports_rows_of_lists(tmp_path: Path) -> None:
    assert PickleIOManager(str(tmp_path)).store(REPORT, [1, 2, 3]).rows == 3
    assert PickleIOManager(str(tmp_path)).store(REPORT, 42).rows is None


def test_exists_and_delete(tmp_path: Path) -> None:
    manager = PickleIOManager(str(tmp_path))
    assert not manager.exists(DAY)
    manager.store(DAY, 1)
    assert manager.exists(DAY)
    manager.delete(DAY)
    manager.delete(DAY)  # deleting twice is fine
    assert not manager.exists(DAY)


def test_loading_a_missing_value_says_materialize_first(tmp_path: Path) -> None:
    with pytest.raises(IOManagerError) as caught:
        PickleIOManager(str(tmp_path)).load(DAY)
    assert "'events'" in str(caught.value) and "'2025-01-15'" in str(caught.value)
    assert "materialize events first" in caught.value.hint
    assert caught.value.retryable is False


def test_truncated_pickle_is_a_corrupt_input(tmp_path: Path) -> None:
    manager = PickleIOManager(str(tmp_path))
    manager.store(DAY, list(range(10_000)))
    path = tmp_path / "events" / "2025-01-15.pkl"
    path.write_bytes(path.read_bytes()[:1000])
    with pytest.raises(CorruptInputError, match="'events' partition '2025-01-15'"):
        manager.load(DAY)


def test_json_round_trip(tmp_path: Path) -> None:
    manager = JsonIOManager(str(tmp_path))
    value = {"name": "Zoë", "values": [1, 2.5, None, True]}
    stored = manager.store(REPORT, value)
    assert stored.uri == str(tmp_path / "report.json")
    assert manager.load(REPORT) == value


def test_json_output_is_deterministic_sorted_and_compact(tmp_path: Path) -> None:
    manager = JsonIOManager(str(tmp_path))
    first = manager.store(REPORT, {"b": 1, "a": [1, 2]})
    assert (tmp_path / "report.json").read_bytes() == b'{"a":[1,2],"b":1}'
    second = manager.store(REPORT, {"a": [1, 2], "b": 1})
    assert first.data_version == second.data_version


def test_json_rows_are_the_length_of_the_top_level_collection(tmp_path: Path) -> None:
    assert JsonIOManager(str(tmp_path)).store(REPORT, [{"a": 1}, {"a": 2}]).rows == 2
    assert JsonIOManager(str(tmp_path)).store(REPORT, "text").rows is None


def test_json_refuses_a_value_that_is_not_serialisable_and_names_its_type(
        tmp_path: Path) -> None:
    manager = JsonIOManager(str(tmp_path))
    with pytest.raises(IOManagerError) as caught:
        manager.store(REPORT, {"when": datetime.date(2025, 1, 15)})
    assert "date" in str(caught.value) and "'report'" in str(caught.value)
    assert 'io_manager="pickle"' in caught.value.hint
    assert caught.value.retryable is False
    assert list(tmp_path.iterdir()) == []


def test_json_refuses_nan(tmp_path: Path) -> None:
    with pytest.raises(IOManagerError, match="not JSON-serialisable"):
        JsonIOManager(str(tmp_path)).store(REPORT, [float("nan")])


def test_invalid_json_file_is_a_corrupt_input(tmp_path: Path) -> None:
    manager = JsonIOManager(str(tmp_path))
    manager.store(REPORT, {"a": 1})
    (tmp_path / "report.json").write_bytes(b'{"a":')
    with pytest.raises(CorruptInputError, match="'report'"):
        manager.load(REPORT)
