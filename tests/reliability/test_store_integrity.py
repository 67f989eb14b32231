"""The store must name the bytes on disk (issue 11): a metadata file deleted or replaced during
a run stops the run clearly, "current" does not depend on wall clocks, and a value published
but never recorded is never read as if it were the recorded one."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.reliability.harness import flowstone, make_project, spawn, store_path, wait_for

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
