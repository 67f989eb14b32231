"""Stored values are published atomically and read back safely, through the real CLI.

Fault cases 5 (SIGKILL while writing v2 keeps v1), 6 (a reader never sees a torn file),
7 (an asset failing half-way through an S3 object publishes nothing) and 12 (a truncated Parquet
input is a clear "corrupt input" failure).
"""

from __future__ import annotations

import hashlib
import pickle
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pyarrow.parquet as pq

from flowstone_cli.io import ParquetIOManager, StoreContext, cleanup_temp_files
from flowstone_cli.io.publish import TEMP_NAME_PATTERN
from tests.conftest import S3Bucket
from tests.reliability.harness import (
    check_materializations,
    flowstone,
    make_project,
    rows,
    spawn,
    wait_for,
)

BLOB = """
    import os, time
    from pathlib import Path
    from flowstone_cli import asset

    class Stall:
        # Pickled after a megabyte of v2 is already in the temporary file.
        def __reduce__(self):
            Path(os.environ["STALL_MARKER"]).write_text("half written")
            time.sleep(60)

    @asset
    def blob():
        if os.environ.get("VERSION") == "2":
            return [b"v2" * 500_000, Stall()]
        return "v1"
"""


def _temp_files(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if TEMP_NAME_PATTERN.match(p.name)]


def test_sigkill_while_writing_v2_keeps_v1_and_cleanup_removes_the_leftover(
        tmp_path: Path) -> None:
    project = make_project(tmp_path / "project", {"blob": BLOB})
    assert flowstone(project, "materialize", "blob").code == 0
    value = project / "data" / "blob.pkl"
    v1_bytes = value.read_bytes()
    marker = tmp_path / "stalled"
    proc = spawn(project, "materialize", "blob", "--force",
                 env={"VERSION": "2", "STALL_MARKER": str(marker)})
    wait_for(marker, proc=proc)
    assert len(_temp_files(project / "data")) == 1  # v2 is half written next to v1
    proc.send_signal(signal.SIGKILL)  # the worker dies with it (PDEATHSIG)
    proc.communicate(timeout=120)

    assert value.read_bytes() == v1_bytes and pickle.loads(v1_bytes) == "v1"
    listed = flowstone(project, "runs", "list", "--json").json()
    assert [r["status"] for r in listed] == ["crashed", "succeeded"]
    (version,), = rows(project, "SELECT data_version FROM steps WHERE status = 'succeeded'")
    assert version == hashlib.sha256(v1_bytes).hexdigest()
    assert check_materializations(project) == []
    # The killed worker's pid is gone (or soon is): its leftover is removable.
    removed = 0
    for _ in range(50):
        removed += cleanup_temp_files(str(project / "data"))
        if not _temp_files(project / "data"):
            break
        subprocess.run(["sleep", "0.1"], check=True)
    assert removed == 1 and _temp_files(project / "data") == []


REWRITER = textwrap.dedent("""
    import sys
    import pyarrow as pa
    from flowstone_cli.io import ParquetIOManager, StoreContext

    manager = ParquetIOManager(sys.argv[1])
    for i in range(200):
        manager.store(StoreContext(asset="table"),
                      pa.table({"i": [i] * 20_000, "payload": [str(i) * 20] * 20_000}))
""")


def test_a_reader_never_sees_a_torn_parquet_file_during_200_rewrites(tmp_path: Path) -> None:
    # The writer is another process, as another `flowstone` run would be; pickle values are
    # covered the same way by tests/io/test_atomic_publish.py.
    subprocess.run([sys.executable, "-c", REWRITER.replace("range(200)", "range(1)"),
                    str(tmp_path)], check=True)
    writer = subprocess.Popen([sys.executable, "-c", REWRITER, str(tmp_path)])
    manager, reads, seen = ParquetIOManager(str(tmp_path)), 0, set()
    while writer.poll() is None:
        table = manager.load(StoreContext(asset="table"))  # a torn file: CorruptInputError
        column = table.column("i").to_pylist()
        assert len(column) == 20_000 and len(set(column)) == 1
        reads, seen = reads + 1, seen | {column[0]}
    assert writer.returncode == 0
    assert reads > 0 and len(seen) > 1
    assert pq.read_table(tmp_path / "table.parquet").column("i")[0].as_py() == 199
    assert _temp_files(tmp_path) == []


S3_BLOB = """
    import os
    from flowstone_cli import asset

    class Explodes:
        def __reduce__(self):
            raise RuntimeError("serialiser failed half-way")

    @asset
    def blob():
        if os.environ.get("VERSION") == "2":
            return [b"v2" * 1_000_000, Explodes()]
        return "v1"
"""


def test_an_asset_failing_half_way_through_an_s3_object_publishes_nothing(
        tmp_path: Path, s3_bucket: S3Bucket) -> None:
    project = make_project(tmp_path / "project", {"blob": S3_BLOB}, toml="""
        [storage]
        root = "s3://${BUCKET}/lake"
        storage_options = { endpoint_url = "${S3_ENDPOINT}", key = "${S3_KEY}", secret = "${S3_SECRET}" }
    """)
    env = {"BUCKET": s3_bucket.bucket, "S3_ENDPOINT": s3_bucket.endpoint_url,
           "S3_KEY": "testing", "S3_SECRET": "testing"}
    assert flowstone(project, "materialize", "blob", env=env).code == 0
    key = f"{s3_bucket.bucket}/lake/blob.pkl"
    v1 = s3_bucket.fs.cat_file(key)
    failed = flowstone(project, "materialize", "blob", "--force", "--json",
                       env={**env, "VERSION": "2"})
    assert failed.code == 1
    step, = failed.json()["steps"]
    assert step["status"] == "failed" and "blob" in step["reason"]
    s3_bucket.fs.invalidate_cache()
    assert s3_bucket.fs.find(s3_bucket.bucket) == [key]  # no other object, no partial one
    assert s3_bucket.fs.cat_file(key) == v1


PARQUET_PAIR = """
    import pyarrow as pa
    from flowstone_cli import StaticPartitions, asset

    REGIONS = StaticPartitions(["eu", "us"])

    @asset(io_manager="parquet", partitions=REGIONS)
    def source(context):
        return pa.table({"region": [context.partition] * 1000, "n": list(range(1000))})

    @asset(io_manager="parquet", partitions=REGIONS)
    def consumer(source):
        return source.slice(0, 10)
"""


def test_a_truncated_parquet_input_fails_its_consumer_as_corrupt_input(tmp_path: Path) -> None:
    project = make_project(tmp_path / "project", {"pair": PARQUET_PAIR})
    assert flowstone(project, "materialize", "source", "--partition", "eu", "--partition",
                     "us").code == 0
    stored = project / "data" / "source" / "eu.parquet"
    stored.write_bytes(stored.read_bytes()[: stored.stat().st_size // 2])
    result = flowstone(project, "materialize", "consumer", "--partition", "eu",
                       "--partition", "us", "--json")
    assert result.code == 1, result.stderr
    steps = {s["partition"]: s for s in result.json()["steps"]}
    assert steps["us"]["status"] == "succeeded"
    assert steps["eu"]["status"] == "failed"
    assert steps["eu"]["error_code"] == "corrupt_input"
    assert "source" in steps["eu"]["reason"] and "eu" in steps["eu"]["reason"]
