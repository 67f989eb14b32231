"""Storing on a real S3-compatible server (moto): round trips, one PUT, no leaked secrets."""

from __future__ import annotations

from typing import Any

import pyarrow as pa
import pytest

from flowstone_cli.errors import FlowStoneError, IOManagerError
from flowstone_cli.io import (
    JsonIOManager,
    ParquetIOManager,
    PickleIOManager,
    StoreContext,
    publish_file,
)
from flowstone_cli.io import publish as publish_module
from tests.conftest import S3Bucket

DAY = StoreContext(asset="events", partition="2025-01-15", partition_path="2025-01-15")


class ExplodesWhenPickled:
    def __reduce__(self) -> Any:
        raise RuntimeError("serialiser failed half-way")


def test_pickle_round_trip_on_s3(s3_bucket: S3Bucket) -> None:
    manager = PickleIOManager(s3_bucket.url("data"), storage_options=s3_bucket.storage_options)
    stored = manager.store(DAY, {"clicks": 3})
    assert stored.uri == s3_bucket.url("data", "events", "2025-01-15.pkl")
    assert manager.exists(DAY) and manager.load(DAY) == {"clicks": 3}


def test_json_round_trip_on_s3(s3_bucket: S3Bucket) -> None:
    manager = JsonIOManager(s3_bucket.url("data"), storage_options=s3_bucket.storage_options)
    manager.store(DAY, [{"b": 2, "a": 1}])
    assert manager.load(DAY) == [{"a": 1, "b": 2}]
    assert s3_bucket.fs.cat_file(f"{s3_bucket.bucket}/data/events/2025-01-15.json") == \
        b'[{"a":1,"b":2}]'


def test_parquet_round_trip_on_s3(s3_bucket: S3Bucket) -> None:
    manager = ParquetIOManager(s3_bucket.url("data"), storage_options=s3_bucket.storage_options)
    table = pa.table({"id": [1, 2, 3], "name": ["a", "b", "c"]})
    assert manager.store(DAY, table).rows == 3
    assert manager.load(DAY).equals(table)


def test_delete_on_s3_removes_the_object(s3_bucket: S3Bucket) -> None:
    manager = PickleIOManager(s3_bucket.url("data"), storage_options=s3_bucket.storage_options)
    manager.store(DAY, 1)
    manager.delete(DAY)
    assert not manager.exists(DAY)
    assert s3_bucket.fs.find(s3_bucket.bucket) == []


def test_s3_store_failing_half_way_publishes_no_object(s3_bucket: S3Bucket) -> None:
    manager = PickleIOManager(s3_bucket.url("data"), storage_options=s3_bucket.storage_options)
    with pytest.raises(IOManagerError):
        manager.store(DAY, [b"x" * 1_000_000, ExplodesWhenPickled()])
    assert s3_bucket.fs.find(s3_bucket.bucket) == []


def test_s3_parquet_write_failing_mid_stream_publishes_no_object(
        s3_bucket: S3Bucket, monkeypatch: pytest.MonkeyPatch) -> None:
    import pyarrow.parquet as pq

    real_write_table = pq.write_table

    def write_first_half_then_fail(table: pa.Table, where: Any, **kwargs: Any) -> None:
        real_write_table(table.slice(0, table.num_rows // 2), where, **kwargs)
        raise OSError("disk went away mid-stream")

    monkeypatch.setattr(pq, "write_table", write_first_half_then_fail)
    manager = ParquetIOManager(s3_bucket.url("data"), storage_options=s3_bucket.storage_options)
    with pytest.raises(IOManagerError, match="disk went away"):
        manager.store(DAY, pa.table({"id": list(range(10_000))}))
    assert s3_bucket.fs.find(s3_bucket.bucket) == []


def test_large_value_spills_to_a_local_file_and_is_uploaded_once(
        s3_bucket: S3Bucket, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(publish_module, "SPILL_THRESHOLD_BYTES", 64 * 1024)
    manager = PickleIOManager(s3_bucket.url("data"), storage_options=s3_bucket.storage_options)
    value = {"payload": b"z" * 300_000}
    stored = manager.store(DAY, value)
    assert manager.load(DAY) == value
    assert stored.size_bytes == s3_bucket.fs.size(f"{s3_bucket.bucket}/data/events/2025-01-15.pkl")


def test_spilled_store_failing_half_way_publishes_no_object(
        s3_bucket: S3Bucket, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(publish_module, "SPILL_THRESHOLD_BYTES", 64 * 1024)

    def write(sink: Any) -> None:
        sink.write(b"y" * 200_000)
        raise RuntimeError("failed after spilling")

    with pytest.raises(RuntimeError):
        publish_file(s3_bucket.url("data", "x.bin"), write, fs=s3_bucket.fs)
    assert s3_bucket.fs.find(s3_bucket.bucket) == []


def test_exists_sees_an_object_published_by_another_client(s3_bucket: S3Bucket) -> None:
    manager = PickleIOManager(s3_bucket.url("data"), storage_options=s3_bucket.storage_options)
    assert not manager.exists(DAY)  # fills fsspec's listing cache
    s3_bucket.fs.pipe_file(f"{s3_bucket.bucket}/data/events/2025-01-15.pkl", b"\x80\x05K\x01.")
    assert manager.exists(DAY)


def test_secrets_never_appear_in_errors_or_repr(s3_server: str) -> None:
    # s3_server only for its dummy credentials in the environment; the endpoint is wrong.
    secret, key = "wJalrXUtnFEMI-SuperSecret-Value", "AKIAFLOWSTONETEST1"
    manager = PickleIOManager(
        "s3://flowstone-test/data",
        storage_options={"endpoint_url": "http://127.0.0.1:9", "key": key, "secret": secret,
                         "config_kwargs": {"retries": {"max_attempts": 1},
                                           "connect_timeout": 1}})
    texts = [repr(manager), manager.uri_for(DAY)]
    for call in (lambda: manager.store(DAY, 1), lambda: manager.load(DAY),
                 lambda: manager.exists(DAY)):
        with pytest.raises(FlowStoneError) as caught:
            call()
        texts += [str(caught.value), caught.value.hint, repr(caught.value.to_dict())]
    assert "127.0.0.1:9" in texts[2]  # the error does say where it failed
    assert not [text for text in texts if secret in text or key in text]


def test_connection_failure_is_retryable(s3_server: str) -> None:
    # s3_server only for its dummy credentials in the environment; the endpoint is wrong.
    manager = PickleIOManager(
        "s3://flowstone-test/data",
        storage_options={"endpoint_url": "http://127.0.0.1:9", "key": "testing",
                         "secret": "testing",
                         "config_kwargs": {"retries": {"max_attempts": 1}}})
    with pytest.raises(IOManagerError) as caught:
        manager.store(DAY, 1)
    assert caught.value.retryable is True
