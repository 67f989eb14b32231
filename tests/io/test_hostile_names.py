"""Asset names and partition paths from outside never lead to a write outside the storage root."""

from __future__ import annotations

import os
import unicodedata
from pathlib import Path

import pytest

from flowstone_cli.errors import InvalidNameError
from flowstone_cli.io import JsonIOManager, PickleIOManager, StoreContext

NFD_E_ACUTE = unicodedata.normalize("NFD", "caf\u00e9")

HOSTILE_ASSET_NAMES = ["../x", "/etc", "a/../../b", "a\x00b", "a" * 300, NFD_E_ACUTE, "",
                       "class"]
HOSTILE_PARTITION_PATHS = ["../x", "/etc", "a/../../b", "2025\x00", "k" * 300, NFD_E_ACUTE,
                           "a//b", ".", "tenant=../x", "1dim=acme", "a\\b", " 2025"]


def _files_outside(base: Path, root: Path) -> list[Path]:
    return [p for p in base.rglob("*") if root not in (p, *p.parents)]


@pytest.mark.parametrize("name", HOSTILE_ASSET_NAMES)
def test_hostile_asset_name_is_refused_and_nothing_is_written(tmp_path: Path, name: str) -> None:
    root = tmp_path / "root"
    with pytest.raises(InvalidNameError):
        PickleIOManager(str(root)).store(StoreContext(asset=name), "payload")
    assert _files_outside(tmp_path, root) == []
    assert not root.exists() or list(root.rglob("*")) == []


@pytest.mark.parametrize("partition_path", HOSTILE_PARTITION_PATHS)
def test_hostile_partition_path_is_refused_and_nothing_is_written(tmp_path: Path,
                                                                   partition_path: str) -> None:
    root = tmp_path / "root"
    ctx = StoreContext(asset="events", partition="p", partition_path=partition_path)
    with pytest.raises(InvalidNameError):
        PickleIOManager(str(root)).store(ctx, "payload")
    assert _files_outside(tmp_path, root) == []
    assert not root.exists() or list(root.rglob("*")) == []


def test_hostile_partition_key_without_path_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InvalidNameError):
        PickleIOManager(str(tmp_path)).load(StoreContext(asset="events", partition="../../x"))


def test_symlink_inside_root_pointing_outside_is_refused(tmp_path: Path) -> None:
    root, outside = tmp_path / "root", tmp_path / "outside"
    root.mkdir()
    outside.mkdir()
    os.symlink(outside, root / "events")
    ctx = StoreContext(asset="events", partition="2025-01-15", partition_path="2025-01-15")
    with pytest.raises(InvalidNameError, match="outside the storage root"):
        PickleIOManager(str(root)).store(ctx, "payload")
    assert list(outside.iterdir()) == []


def test_file_name_longer_than_the_file_system_allows_is_refused(tmp_path: Path) -> None:
    # 253 characters is a valid key, but with ".json" the file name would be 258 bytes.
    ctx = StoreContext(asset="events", partition="k" * 253, partition_path="k" * 253)
    with pytest.raises(InvalidNameError, match="longer than 255 bytes"):
        JsonIOManager(str(tmp_path)).store(ctx, [1])


def test_hive_style_multi_dimension_path_is_laid_out_below_the_asset(tmp_path: Path) -> None:
    ctx = StoreContext(asset="sales", partition="acme|2025-01-15",
                       partition_path="tenant=acme/date=2025-01-15")
    stored = JsonIOManager(str(tmp_path)).store(ctx, [1])
    assert stored.uri == str(tmp_path / "sales" / "tenant=acme" / "date=2025-01-15.json")


def test_relative_root_is_made_absolute(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    manager = JsonIOManager("data")
    assert manager.root == str(tmp_path / "data")
    assert manager.uri_for(StoreContext(asset="a")) == str(tmp_path / "data" / "a.json")
