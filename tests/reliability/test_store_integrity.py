"""The store must name the bytes on disk (issue 11): a metadata file deleted or replaced during
a run stops the run clearly, "current" does not depend on wall clocks, and a value published
but never recorded is never read as if it were the recorded one."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.reliability.harness import flowstone, make_project, rows, spawn, store_path, wait_for

GATED = """
    import os, time
    from pathlib import Path
    from flowstone_cli import asset

    @asset
    def first():
        return 1

    @asset
    def gated(first):
        marker = os.environ.get("GATE_MARKER")
        if marker:
            Path(marker).write_text("reached")
            go = Path(marker + ".go")
            while not go.exists():
                time.sleep(0.02)
        return first + 1

    @asset
    def after(gated):
        return gated + 1
"""


@pytest.mark.parametrize("how", ["deleted", "replaced"])
def test_a_store_deleted_or_replaced_mid_run_fails_the_run_clearly_and_creates_nothing(
        tmp_path: Path, how: str) -> None:
    project = make_project(tmp_path / "project", {"gated": GATED})
    marker = tmp_path / "gate"
    proc = spawn(project, "materialize", "*", env={"GATE_MARKER": str(marker)})
    wait_for(marker, proc=proc)
    store = store_path(project)
    wait_for(store)
    if how == "deleted":
        store.unlink()
        (tmp_path / "gate.go").write_text("go")
    else:
        copy = tmp_path / "copy.duckdb"
        shutil.copyfile(store, copy)
        (tmp_path / "gate.go").write_text("go")
        copy.replace(store)  # same name, another inode
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 2, (out, err)
    assert f"was {'deleted' if how == 'deleted' else 'replaced by another file'} while run" \
        in err
    assert "no new store was created" in err and "Traceback" not in err
    assert store.exists() == (how == "replaced")


VALUED = """
    import os
    from flowstone_cli import asset

    @asset
    def value():
        return os.environ.get("VALUE", "v1") * 100

    @asset
    def doubled(value):
        return value * 2
"""

# Loaded by every Python process of the faked run (coordinator and workers): its clock is a
# day behind, like a host whose clock was never set.
SKEWED_CLOCK = """
import time
_real = time.time
time.time = lambda: _real() - 86_400
"""


def _sha(path: Path) -> str:
    import hashlib

    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_the_value_recorded_last_is_current_even_from_a_clock_a_day_behind(
        tmp_path: Path) -> None:
    project = make_project(tmp_path / "project", {"valued": VALUED})
    assert flowstone(project, "materialize", "*", env={"VALUE": "v1"}).code == 0
    skew = tmp_path / "skew"
    skew.mkdir()
    (skew / "sitecustomize.py").write_text(SKEWED_CLOCK)
    skewed = flowstone(project, "materialize", "value", "--force", "--json",
                       env={"VALUE": "v2", "PYTHONPATH": str(skew)})
    assert skewed.code == 0, skewed.stderr
    (v2_step,) = [s["step_id"] for s in skewed.json()["steps"] if s["asset"] == "value"]
    (ended,), = rows(project, "SELECT ended_at < now() - INTERVAL 12 HOUR FROM steps "
                              "WHERE step_id = ?", [v2_step])
    assert ended, "the fake clock was not used"
    # `doubled` consumed v1: it is stale now, and reads (and records) v2.
    later = flowstone(project, "materialize", "doubled", "--json")
    assert later.code == 0, later.stderr
    assert [(s["asset"], s["status"]) for s in later.json()["steps"]] == [
        ("doubled", "succeeded")]
    file = project / "data" / "value.pkl"
    consumed = rows(project, "SELECT l.upstream_step_id, l.upstream_data_version FROM lineage l "
                             "JOIN steps s ON s.step_id = l.step_id WHERE s.run_id = ?",
                    [later.json()["run_id"]])
    assert consumed == [(v2_step, _sha(file))]


def test_a_value_published_but_never_recorded_is_refused_by_its_consumers(
        tmp_path: Path) -> None:
    import os
    import pickle

    project = make_project(tmp_path / "project", {"valued": VALUED})
    first = flowstone(project, "materialize", "*", "--json", env={"VALUE": "v1"})
    assert first.code == 0, first.stderr
    file = project / "data" / "value.pkl"
    recorded = _sha(file)
    # What a coordinator killed between a worker's publish and its record leaves behind.
    tmp = file.with_name(".value.pkl.tmp")
    tmp.write_bytes(pickle.dumps("v2" * 100))
    os.replace(tmp, file)
    lineage_before = rows(project, "SELECT * FROM lineage ORDER BY step_id")
    consumer = flowstone(project, "materialize", "doubled", "--force", "--json")
    assert consumer.code == 1, consumer.stderr
    (step,) = consumer.json()["steps"]
    assert (step["status"], step["error_code"]) == ("failed", "unrecorded_value")
    assert f"data version {recorded[:12]}" in consumer.stderr + consumer.stdout
    assert rows(project, "SELECT * FROM lineage ORDER BY step_id") == lineage_before
    # Recomputing the value records what its file holds; then consumers read it again.
    assert flowstone(project, "materialize", "value", "--force", env={"VALUE": "v3"}).code == 0
    again = flowstone(project, "materialize", "doubled", "--json")
    assert again.code == 0, again.stderr
    (value_step,), = rows(project, "SELECT l.upstream_data_version FROM lineage l JOIN steps s "
                                   "ON s.step_id = l.step_id WHERE s.run_id = ?",
                          [again.json()["run_id"]])
    assert value_step == _sha(file)
