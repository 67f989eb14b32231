"""The error contract every IOManager subclass gets from the base class."""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import pytest

from flowstone_cli.errors import CorruptInputError, FlowStoneError, IOManagerError
from flowstone_cli.io import IOManager, PickleIOManager, StoreContext, StoredValue

PARTITIONED = StoreContext(asset="events", partition="2025-01-15", partition_path="2025-01-15")


class FailingStore(IOManager):
    extension = ".bin"

    def store(self, ctx: StoreContext, value: Any) -> StoredValue:
        raise ValueError("boom")

    def load(self, ctx: StoreContext) -> Any:
        raise FileNotFoundError(self.uri_for(ctx))

    def exists(self, ctx: StoreContext) -> bool:
        return 1  # type: ignore[return-value]

    def delete(self, ctx: StoreContext) -> None:
        raise FlowStoneError("already structured", hint="keep me")


class ReturnsNothing(IOManager):
    def __init__(self, root: str) -> None:
        super().__init__(root)
        self.values: dict[str, Any] = {}

    def store(self, ctx: StoreContext, value: Any) -> StoredValue:
        self.values[ctx.asset] = value
        return None  # type: ignore[return-value]

    def load(self, ctx: StoreContext) -> Any:
        return pickle.loads(b"\x80\x05\x95garbage")

    def exists(self, ctx: StoreContext) -> bool:
        return ctx.asset in self.values

    def delete(self, ctx: StoreContext) -> None:
        self.values.pop(ctx.asset, None)


class SubclassOfFailing(FailingStore):
    def store(self, ctx: StoreContext, value: Any) -> StoredValue:
        return super().store(ctx, value)


def test_user_store_raising_value_error_becomes_io_manager_error_naming_asset_and_uri(
        tmp_path: Path) -> None:
    manager = FailingStore(str(tmp_path))
    with pytest.raises(IOManagerError) as caught:
        manager.store(PARTITIONED, 1)
    message = str(caught.value)
    assert "'events'" in message and "'2025-01-15'" in message
    assert str(tmp_path / "events" / "2025-01-15.bin") in message
    assert "ValueError: boom" in message and "store" in message
    assert isinstance(caught.value.__cause__, ValueError)


def test_wrapping_happens_once_even_through_super_calls(tmp_path: Path) -> None:
    with pytest.raises(IOManagerError) as caught:
        SubclassOfFailing(str(tmp_path)).store(PARTITIONED, 1)
    assert str(caught.value).count("could not store") == 1
    assert isinstance(caught.value.__cause__, ValueError)


def test_flowstone_errors_from_a_manager_pass_through_unchanged(tmp_path: Path) -> None:
    with pytest.raises(FlowStoneError) as caught:
        FailingStore(str(tmp_path)).delete(PARTITIONED)
    assert type(caught.value) is FlowStoneError and caught.value.hint == "keep me"


def test_file_not_found_on_load_means_materialize_first(tmp_path: Path) -> None:
    with pytest.raises(IOManagerError) as caught:
        FailingStore(str(tmp_path)).load(PARTITIONED)
    assert "materialize events first" in caught.value.hint
    assert caught.value.retryable is False


def test_undecodable_bytes_on_load_become_corrupt_input(tmp_path: Path) -> None:
    with pytest.raises(CorruptInputError) as caught:
        ReturnsNothing(str(tmp_path)).load(PARTITIONED)
    assert "'events'" in str(caught.value) and "'2025-01-15'" in str(caught.value)


def test_store_returning_none_is_normalised_to_a_stored_value(tmp_path: Path) -> None:
    manager = ReturnsNothing(str(tmp_path))
    stored = manager.store(StoreContext(asset="report"), {"x": 1})
    assert stored == StoredValue(uri=str(tmp_path / "report"), size_bytes=None, rows=None,
                                 data_version=None)


def test_exists_result_is_a_bool(tmp_path: Path) -> None:
    assert FailingStore(str(tmp_path)).exists(PARTITIONED) is True


def test_names_are_validated_before_user_code_runs(tmp_path: Path) -> None:
    manager = ReturnsNothing(str(tmp_path))
    with pytest.raises(FlowStoneError, match="not a valid identifier"):
        manager.store(StoreContext(asset="../etc"), 1)
    assert manager.values == {}


def test_user_class_without_type_name_gets_module_and_class_name() -> None:
    assert FailingStore.type_name == f"{__name__}:FailingStore"


def test_repr_shows_type_and_root_only(tmp_path: Path) -> None:
    manager = PickleIOManager(str(tmp_path), storage_options={"secret": "hunter2hunter2"})
    assert repr(manager) == f"PickleIOManager(type='pickle', root='{tmp_path}')"


def test_manager_survives_pickling_for_worker_processes(tmp_path: Path) -> None:
    manager = PickleIOManager(str(tmp_path))
    manager.store(StoreContext(asset="a"), [1, 2])
    clone = pickle.loads(pickle.dumps(manager))
    assert clone.load(StoreContext(asset="a")) == [1, 2]
