"""The containment check and the write are one step: a folder under the storage root replaced by
a symlink after `locate` checked the path (and before the file is opened) cannot send a value,
or a delete, outside the root."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import pytest

from flowstone_cli.errors import InvalidNameError
from flowstone_cli.io.base import StoreContext
from flowstone_cli.io.json_manager import JsonIOManager
from flowstone_cli.io.pickle_manager import PickleIOManager

CTX = StoreContext(asset="events", partition="2025-01-15", partition_path="2025-01-15")


def swap_folder_for_symlink(folder: Path, outside: Path) -> None:
    shutil.rmtree(folder)
    folder.symlink_to(outside, target_is_directory=True)


def race_after_the_check(manager: Any, root: Path, outside: Path,
                         monkeypatch: pytest.MonkeyPatch) -> None:
    """The race, made deterministic: right after `location` has checked the path (realpath
    under the root), the folder is replaced by a symlink to `outside`."""
    checked = manager.location

    def racing_location(ctx: StoreContext) -> Any:
        location = checked(ctx)
        swap_folder_for_symlink(root / "events", outside)
        return location

    monkeypatch.setattr(manager, "location", racing_location)


@pytest.mark.parametrize("manager_class", [PickleIOManager, JsonIOManager])
def test_a_folder_swapped_for_a_symlink_between_check_and_write_is_refused(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, manager_class: type) -> None:
    root, outside = tmp_path / "root", tmp_path / "outside"
    outside.mkdir()
    manager = manager_class(str(root))
    manager.store(CTX, {"v": 1})  # creates root/events/2025-01-15.*
    race_after_the_check(manager, root, outside, monkeypatch)
    with pytest.raises(InvalidNameError, match="symlink"):
        manager.store(CTX, {"v": 2})
    assert list(outside.iterdir()) == []


def test_a_delete_through_a_swapped_folder_deletes_nothing_outside(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root, outside = tmp_path / "root", tmp_path / "outside"
    outside.mkdir()
    manager = PickleIOManager(str(root))
    manager.store(CTX, {"v": 1})
    victim = outside / Path(manager.location(CTX).path).name
    victim.write_bytes(b"precious")
    race_after_the_check(manager, root, outside, monkeypatch)
    with pytest.raises(InvalidNameError, match="symlink"):
        manager.delete(CTX)
    assert victim.read_bytes() == b"precious"


def test_values_are_still_written_and_deleted_normally(tmp_path: Path) -> None:
    real_root = tmp_path / "real"
    real_root.mkdir()
    (tmp_path / "link").symlink_to(real_root, target_is_directory=True)
    manager = PickleIOManager(str(tmp_path / "link"))  # the root itself may be a symlink
    stored = manager.store(CTX, {"v": 3})
    assert manager.load(CTX) == {"v": 3} and stored.size_bytes > 0
    assert [p.name for p in (real_root / "events").iterdir()] == [
        os.path.basename(manager.location(CTX).path)]
    manager.delete(CTX)
    assert not manager.exists(CTX)
    manager.delete(CTX)  # deleting again is not an error
