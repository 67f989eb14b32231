"""Finding projects and importing their modules safely."""

from __future__ import annotations

from pathlib import Path

import pytest

from flowstone_cli.errors import ProjectNotFoundError
from flowstone_cli.project.discovery import find_project_root
from flowstone_cli.project.loader import inspect_project, load_project


def make_project(root: Path, modules: dict[str, str], toml: str = '[project]\nname = "t"\n'
                 ) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "flowstone.toml").write_text(toml)
    (root / "assets").mkdir(exist_ok=True)
    for name, source in modules.items():
        path = root / "assets" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(source)
    return root


def test_explicit_then_env_then_parents(tmp_path: Path) -> None:
    root = make_project(tmp_path / "p", {})
    nested = root / "a" / "b"
    nested.mkdir(parents=True)
    assert find_project_root(None, {}, nested) == root
    assert find_project_root(None, {"FLOWSTONE_PROJECT": str(root)}, tmp_path) == root
    assert find_project_root(str(root), {"FLOWSTONE_PROJECT": "/nowhere"}, tmp_path) == root
    with pytest.raises(ProjectNotFoundError, match="has no flowstone.toml"):
        find_project_root(str(tmp_path), {}, tmp_path)


def test_project_file_named_duckdb_does_not_shadow_the_library(tmp_path: Path) -> None:
    root = make_project(tmp_path / "shadow", {
        "duckdb.py": "raise RuntimeError('project duckdb.py was imported as the library')\n",
        "uses.py": "import json\nfrom flowstone_cli import asset\n\n"
                   "@asset\ndef thing():\n    import duckdb\n    return duckdb.__name__\n",
    })
    report = inspect_project(root, {})
    # The project's own duckdb.py is imported as a project module (and fails there, reported),
    # while `import duckdb` elsewhere still gets the real library.
    assert [p.code for p in report.problems] == ["import_error"]
    assert "duckdb.py" in report.problems[0].location
    import duckdb  # noqa: F401 - the real one

    spec = next(s for s in report.specs if s.name == "thing")
    assert spec.fn() == "duckdb"


def test_import_error_in_one_module_reports_file_and_line_and_checks_others(
        tmp_path: Path) -> None:
    root = make_project(tmp_path / "err", {
        "bad.py": "x = 1\n\nraise ValueError('boom')\n",
        "syntax.py": "def broken(:\n",
        "good.py": "from flowstone_cli import asset\n\n@asset\ndef fine():\n    return 1\n",
    })
    report = inspect_project(root, {})
    locations = sorted(p.location.rsplit("/", 1)[-1] for p in report.problems)
    assert locations == ["bad.py:3", "syntax.py:1"]
    assert [s.name for s in report.specs] == ["fine"]


def test_nested_modules_and_relative_imports(tmp_path: Path) -> None:
    root = make_project(tmp_path / "nested", {
        "common.py": "FACTOR = 3\n",
        "sub/deep.py": "from flowstone_cli import asset\nfrom ..common import FACTOR\n\n"
                       "@asset\ndef scaled():\n    return FACTOR\n",
    })
    project = load_project(root, {})
    assert project.definitions.get("scaled").fn() == 3


def test_unconfigured_io_manager_and_resource_are_reported(tmp_path: Path) -> None:
    root = make_project(tmp_path / "cfg", {
        "a.py": "from flowstone_cli import asset\n\n"
                "@asset(io_manager='warehouse', requires=['db'])\ndef a():\n    return 1\n",
    })
    codes = sorted(p.code for p in inspect_project(root, {}).problems)
    assert codes == ["unknown_io_manager", "unknown_resource"]


def test_unknown_deps_entry_suggests_a_close_name(tmp_path: Path) -> None:
    root = make_project(tmp_path / "deps", {
        "a.py": "from flowstone_cli import asset\n\n@asset\ndef events():\n    return 1\n\n"
                "@asset(deps=['event'])\ndef later():\n    return 2\n",
    })
    problem = inspect_project(root, {}).problems[0]
    assert problem.code == "unknown_dependency"
    assert "did you mean `events`" in problem.message


def test_metadata_defaults_next_to_local_data_and_in_project_for_remote(tmp_path: Path) -> None:
    local = load_project(make_project(tmp_path / "l", {}), {})
    assert local.metadata_path == local.root / "data" / "flowstone.duckdb"
    remote = load_project(make_project(tmp_path / "r", {}, '[project]\nname = "r"\n[storage]\n'
                                       'root = "s3://bucket/prefix"\n'), {})
    assert remote.storage_root == "s3://bucket/prefix"
    assert remote.metadata_path == remote.root / ".flowstone" / "flowstone.duckdb"
