"""The code shipped to Dask workers: version-stamped, secret-free, unpacked atomically; and
the storage checks that decide whether a cluster may run a project."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from flowstone_cli.errors import ClusterStorageError
from flowstone_cli.execution.cluster_storage import check_cluster_storage, is_local_address
from flowstone_cli.execution.code_bundle import bundle_project, unpack
from flowstone_cli.project.loader import load_project
from tests.cli_runner import REPO, copy_example, copy_fixture


def test_bundle_holds_assets_and_config_without_resolved_secrets(tmp_path: Path) -> None:
    project_dir = copy_fixture("dask_s3", tmp_path)
    env = {"BUCKET": "b", "S3_ENDPOINT": "http://127.0.0.1:1", "AWS_ACCESS_KEY_ID": "AKIAXX",
           "AWS_SECRET_ACCESS_KEY": "very-secret-value"}
    bundle = bundle_project(load_project(project_dir, env))
    assert bundle.name.startswith("dask_s3-") and bundle.code_hash.startswith(bundle.name[8:])
    with zipfile.ZipFile(io.BytesIO(bundle.archive)) as archive:
        names = sorted(archive.namelist())
        config = archive.read("flowstone.toml").decode()
    assert names == ["assets/readings.py", "flowstone.toml"]
    assert b"very-secret-value" not in bundle.archive and "${AWS_SECRET_ACCESS_KEY}" in config
    assert "[executor]" not in config  # the coordinator's setting, e.g. an address variable


def test_two_versions_of_a_project_get_different_folders(tmp_path: Path) -> None:
    project_dir = copy_fixture("minimal", tmp_path)
    first = bundle_project(load_project(project_dir, {}))
    assert bundle_project(load_project(project_dir, {})) == first  # reproducible
    module = project_dir / "assets" / "pipeline.py"
    module.write_text(module.read_text() + "\n# changed\n")
    second = bundle_project(load_project(project_dir, {}))
    assert second.name != first.name
    into = tmp_path / "worker"
    a, b = unpack(first.name, first.archive, into), unpack(second.name, second.archive, into)
    assert a != b and "# changed" in (b / "assets" / "pipeline.py").read_text()
    assert "# changed" not in (a / "assets" / "pipeline.py").read_text()
    assert unpack(first.name, first.archive, into) == a  # idempotent
    assert sorted(p.name for p in into.iterdir()) == sorted([first.name, second.name])


def test_storage_checks(tmp_path: Path) -> None:
    project = load_project(copy_example(tmp_path), {})
    assets = list(project.definitions.assets)
    check_cluster_storage(project, assets, None)  # a local cluster shares the disk
    check_cluster_storage(project, assets, "tcp://127.0.0.1:8786")
    with pytest.raises(ClusterStorageError) as refused:
        check_cluster_storage(project, assets, "tcp://192.0.2.10:8786")
    assert refused.value.exit_code == 2
    assert is_local_address("tcp://localhost:8786") and not is_local_address("tcp://192.0.2.1:1")


def test_help_and_list_do_not_import_dask() -> None:
    code = ("import sys, io, contextlib\n"
            "from flowstone_cli.cli.main import main\n"
            "for args in (['--help'], ['-p', sys.argv[1], 'list']):\n"
            "    with contextlib.redirect_stdout(io.StringIO()):\n"
            "        try:\n"
            "            main(args)\n"
            "        except SystemExit:\n"
            "            pass\n"
            "print(sorted({m.split('.')[0] for m in sys.modules} & {'dask', 'distributed'}))\n")
    proc = subprocess.run([sys.executable, "-c", code, str(REPO / "example_project")],
                          capture_output=True, text=True, check=True, cwd=REPO,
                          env={k: v for k, v in os.environ.items()
                               if not k.startswith("FLOWSTONE_")})
    assert proc.stdout.strip().splitlines()[-1] == "[]"
