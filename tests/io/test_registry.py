"""Resolving configured I/O manager types and creating managers from options."""

from __future__ import annotations

import json
import subprocess
import sys
import types
from pathlib import Path
from typing import Any

import pytest

from flowstone_cli.errors import ConfigError
from flowstone_cli.io import (
    BUILTIN_IO_MANAGERS,
    IOManager,
    ParquetIOManager,
    StoreContext,
    StoredValue,
    create_io_manager,
    resolve_io_manager_class,
)


class CustomStore(IOManager):
    def store(self, ctx: StoreContext, value: Any) -> StoredValue:
        return StoredValue(uri=self.uri_for(ctx), size_bytes=0, rows=None, data_version=None)

    def load(self, ctx: StoreContext) -> Any:
        return self.options.get("answer")

    def exists(self, ctx: StoreContext) -> bool:
        return True

    def delete(self, ctx: StoreContext) -> None:
        return None


class HalfDone(IOManager):
    def store(self, ctx: StoreContext, value: Any) -> StoredValue:
        raise NotImplementedError


def _fake_importer(**modules: types.ModuleType) -> Any:
    def import_module(name: str) -> types.ModuleType:
        if name not in modules:
            raise ModuleNotFoundError(f"No module named {name!r}")
        return modules[name]
    return import_module


def _module(**attributes: Any) -> types.ModuleType:
    module = types.ModuleType("my_io.stores")
    module.__dict__.update(attributes)
    return module


def test_builtin_names_resolve_to_their_classes() -> None:
    assert set(BUILTIN_IO_MANAGERS) == {"pickle", "json", "parquet", "duckdb", "memory"}
    for name, cls in BUILTIN_IO_MANAGERS.items():
        assert resolve_io_manager_class(name) is cls
        assert cls.type_name == name


def test_user_class_resolves_from_module_and_class_name() -> None:
    importer = _fake_importer(**{"my_io.stores": _module(CustomStore=CustomStore)})
    assert resolve_io_manager_class("my_io.stores:CustomStore",
                                    import_module=importer) is CustomStore


def test_unknown_type_lists_the_builtin_names() -> None:
    with pytest.raises(ConfigError) as caught:
        resolve_io_manager_class("parquett")
    assert "pickle, json, parquet, duckdb, memory" in str(caught.value)


def test_class_that_is_not_an_io_manager_is_refused() -> None:
    importer = _fake_importer(**{"my_io.stores": _module(NotAStore=dict)})
    with pytest.raises(ConfigError, match="not a subclass of flowstone_cli.io.IOManager"):
        resolve_io_manager_class("my_io.stores:NotAStore", import_module=importer)


def test_abstract_user_class_names_the_missing_methods() -> None:
    importer = _fake_importer(**{"my_io.stores": _module(HalfDone=HalfDone)})
    with pytest.raises(ConfigError, match="delete, exists, load"):
        resolve_io_manager_class("my_io.stores:HalfDone", import_module=importer)


def test_module_that_cannot_be_imported_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="could not import module 'nowhere'"):
        resolve_io_manager_class("nowhere:Store", import_module=_fake_importer())


def test_missing_attribute_is_a_config_error() -> None:
    importer = _fake_importer(**{"my_io.stores": _module()})
    with pytest.raises(ConfigError, match="no attribute 'Missing'"):
        resolve_io_manager_class("my_io.stores:Missing", import_module=importer)


def test_create_passes_options_to_the_manager(tmp_path: Path) -> None:
    manager = create_io_manager(ParquetIOManager, root=str(tmp_path), storage_options=None,
                                options={"compression": "snappy", "row_group_size": 1000})
    assert isinstance(manager, ParquetIOManager)
    assert (manager.compression, manager.row_group_size) == ("snappy", 1000)


def test_create_with_an_unexpected_option_names_it(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        create_io_manager(ParquetIOManager, root=str(tmp_path), storage_options=None,
                          options={"compresion": "zstd"})
    assert "'compresion'" in str(caught.value) and "compression" in caught.value.hint


def test_create_gives_user_classes_their_options(tmp_path: Path) -> None:
    manager = create_io_manager(CustomStore, root=str(tmp_path), storage_options=None,
                                options={"answer": 42})
    assert manager.load(StoreContext(asset="a")) == 42


def test_importing_the_registry_does_not_import_heavy_libraries() -> None:
    code = ("import json, sys, flowstone_cli.io, flowstone_cli.io.registry; "
            "print(json.dumps(sorted(m for m in ('pyarrow', 'duckdb', 'pandas', 's3fs', 'fsspec')"
            " if m in sys.modules)))")
    output = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True).stdout
    assert json.loads(output) == []
