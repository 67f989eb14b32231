"""Architecture rules that CI enforces: import-linter contracts and start-up import cost."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.cli_runner import FIXTURES, REPO


def test_import_linter_contracts_hold() -> None:
    linter = Path(sys.executable).with_name("lint-imports")
    proc = subprocess.run([str(linter), "--config", str(REPO / "pyproject.toml")], cwd=REPO,
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "BROKEN" not in proc.stdout


def _modules_after(args: list[str]) -> set[str]:
    code = ("import sys, io, contextlib\n"
            "from flowstone_cli.cli.main import main\n"
            "with contextlib.redirect_stdout(io.StringIO()):\n"
            f"    main({args!r})\n"
            "print(' '.join(sorted(m for m in sys.modules if m.split('.')[0] in "
            "{'duckdb', 'pyarrow', 'pydantic', 'pandas'})))\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True, cwd=REPO)
    return {m.split(".")[0] for m in proc.stdout.split()}


def test_help_imports_neither_duckdb_nor_pyarrow_nor_pydantic() -> None:
    assert _modules_after(["--help"]) == set()


def test_read_only_commands_do_not_import_duckdb_or_pyarrow() -> None:
    project = str(FIXTURES / "minimal")
    for command in (["list", "--json"], ["plan", "*"], ["check"], ["graph"]):
        loaded = _modules_after(["-p", project, *command])
        assert "duckdb" not in loaded and "pyarrow" not in loaded, (command, loaded)
