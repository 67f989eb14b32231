"""The parquet manager: Arrow and pandas values, options, and torn files."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from flowstone_cli.errors import ConfigError, CorruptInputError, IOManagerError
from flowstone_cli.io import ParquetIOManager, StoreContext

DAY = StoreContext(asset="events", partition="2025-01-15", partition_path="2025-01-15")
TABLE = pa.table({"id": [1, 2, 3], "kind": ["a", "b", "a"], "value": [0.5, 1.5, None]})


def test_arrow_table_round_trip(tmp_path: Path) -> None:
    manager = ParquetIOManager(str(tmp_path))
    stored = manager.store(DAY, TABLE)
    assert stored.uri == str(tmp_path / "events" / "2025-01-15.parquet")
    assert stored.rows == 3
    assert manager.load(DAY).equals(TABLE)


def test_record_batch_is_stored_as_a_table(tmp_path: Path) -> None:
    manager = ParquetIOManager(str(tmp_path))
    manager.store(DAY, TABLE.to_batches()[0])
    assert manager.load(DAY).equals(TABLE)


def test_list_of_record_batches_is_stored_as_one_table(tmp_path: Path) -> None:
    manager = ParquetIOManager(str(tmp_path))
    batches = TABLE.to_batches(max_chunksize=1)
    assert manager.store(DAY, batches).rows == 3
    assert manager.load(DAY).combine_chunks().equals(TABLE.combine_chunks())


def test_dataframe_comes_back_as_a_dataframe(tmp_path: Path) -> None:
    manager = ParquetIOManager(str(tmp_path))
    frame = pd.DataFrame({"id": [1, 2], "name": ["x", "y"]}, index=[10, 20])
    assert manager.store(DAY, frame).rows == 2
    loaded = manager.load(DAY)
    assert isinstance(loaded, pd.DataFrame)
    pd.testing.assert_frame_equal(loaded, frame)


def test_unsupported_value_type_names_the_type_and_the_accepted_types(tmp_path: Path) -> None:
    with pytest.raises(IOManagerError) as caught:
        ParquetIOManager(str(tmp_path)).store(DAY, {"id": [1, 2]})
    message = str(caught.value)
    assert "type dict" in message and "pyarrow.Table" in message and "DataFrame" in message
    assert caught.value.retryable is False
    assert list(tmp_path.iterdir()) == []


def test_data_version_is_the_sha256_of_the_file(tmp_path: Path) -> None:
    stored = ParquetIOManager(str(tmp_path)).store(DAY, TABLE)
    data = (tmp_path / "events" / "2025-01-15.parquet").read_bytes()
    assert stored.data_version == hashlib.sha256(data).hexdigest()
    assert stored.size_bytes == len(data)


def test_compression_and_row_group_size_options_are_applied(tmp_path: Path) -> None:
    manager = ParquetIOManager(str(tmp_path), compression="snappy", row_group_size=1)
    manager.store(DAY, TABLE)
    metadata = pq.ParquetFile(tmp_path / "events" / "2025-01-15.parquet").metadata
    assert metadata.num_row_groups == 3
    assert metadata.row_group(0).column(0).compression == "SNAPPY"


def test_default_compression_is_zstd(tmp_path: Path) -> None:
    ParquetIOManager(str(tmp_path)).store(DAY, TABLE)
    metadata = pq.ParquetFile(tmp_path / "events" / "2025-01-15.parquet").metadata
    assert metadata.row_group(0).column(0).compression == "ZSTD"


@pytest.mark.parametrize("options", [{"compression": "rar"}, {"row_group_size": 0},
                                     {"row_group_size": "big"}])
def test_invalid_options_are_config_errors(tmp_path: Path, options: dict[str, object]) -> None:
    with pytest.raises(ConfigError):
        ParquetIOManager(str(tmp_path), **options)  # type: ignore[arg-type]


def test_truncated_parquet_file_is_a_corrupt_input_naming_asset_and_partition(
        tmp_path: Path) -> None:
    manager = ParquetIOManager(str(tmp_path))
    manager.store(DAY, TABLE)
    path = tmp_path / "events" / "2025-01-15.parquet"
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(CorruptInputError) as caught:
        manager.load(DAY)
    assert "'events' partition '2025-01-15'" in str(caught.value)
    assert str(path) in str(caught.value)
    assert caught.value.retryable is False


def test_damaged_bytes_inside_a_parquet_file_are_a_corrupt_input(tmp_path: Path) -> None:
    manager = ParquetIOManager(str(tmp_path))
    manager.store(DAY, pa.table({"id": list(range(100_000))}))
    path = tmp_path / "events" / "2025-01-15.parquet"
    data = bytearray(path.read_bytes())
    middle = len(data) // 2
    data[middle:middle + 100] = bytes(100)
    path.write_bytes(bytes(data))
    with pytest.raises(CorruptInputError, match="'events' partition '2025-01-15'"):
        manager.load(DAY)
