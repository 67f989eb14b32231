"""The memory manager: values live in this process only."""

from __future__ import annotations

import hashlib
import pickle
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from flowstone_cli.errors import IOManagerError
from flowstone_cli.io import MemoryIOManager, StoreContext

DAY = StoreContext(asset="events", partition="2025-01-15", partition_path="2025-01-15")


@pytest.fixture
def manager(tmp_path: Path) -> Iterator[MemoryIOManager]:
    memory = MemoryIOManager(str(tmp_path))
    yield memory
    memory.clear()


def test_round_trip_returns_the_same_object(manager: MemoryIOManager) -> None:
    value = {"rows": [1, 2, 3]}
    stored = manager.store(DAY, value)
    assert manager.load(DAY) is value
    assert stored.uri == f"memory://{manager.root}/events/2025-01-15"
    assert stored.rows == 1


def test_values_outlive_the_manager_instance(manager: MemoryIOManager) -> None:
    manager.store(DAY, [1, 2])
    assert MemoryIOManager(manager.root).load(DAY) == [1, 2]


def test_values_are_kept_apart_by_root(manager: MemoryIOManager, tmp_path: Path) -> None:
    manager.store(DAY, "here")
    assert not MemoryIOManager(str(tmp_path / "elsewhere")).exists(DAY)


def test_does_not_support_processes() -> None:
    assert MemoryIOManager.supports_processes is False


def test_data_version_is_the_sha256_of_the_pickle(manager: MemoryIOManager) -> None:
    stored = manager.store(DAY, [1, 2, 3])
    assert stored.data_version == hashlib.sha256(pickle.dumps([1, 2, 3], protocol=5)).hexdigest()


def test_unpicklable_value_is_stored_without_a_data_version(manager: MemoryIOManager) -> None:
    lock = threading.Lock()
    assert manager.store(DAY, lock).data_version is None
    assert manager.load(DAY) is lock


def test_missing_value_says_materialize_first(manager: MemoryIOManager) -> None:
    with pytest.raises(IOManagerError) as caught:
        manager.load(DAY)
    assert "materialize events first" in caught.value.hint


def test_delete_forgets_the_value(manager: MemoryIOManager) -> None:
    manager.store(DAY, 1)
    manager.delete(DAY)
    assert not manager.exists(DAY)
