"""`--help` reads like a command line: metavars, no Python types, examples at the end."""

from __future__ import annotations

import json
import re
import subprocess
import sys

from tests.cli_runner import REPO, run_cli

# Renders every command's and sub-command's --help through the real entry point, in one process.
_WALK = r"""
import contextlib, io, json, os
os.environ["COLUMNS"] = "120"
from typer.main import get_command
from flowstone_cli.cli.main import app, main

def walk(command, path):
    yield path
    for name, sub in sorted(getattr(command, "commands", {}).items()):
        yield from walk(sub, path + [name])

out = {}
for path in walk(get_command(app), []):
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        code = main([*path, "--help"])
    out[" ".join(path)] = [code, buffer.getvalue()]
print(json.dumps(out))
"""

# What Typer prints when it falls back to the Python annotation.
PYTHON_LOOK = re.compile(r"<[a-z]|list\[|int range|float range|\{[a-z_]+\}|\b(str|bool|int|"
                         r"float|NoneType|Path)\b|\[x[<>]")


def _every_help() -> dict[str, tuple[int, str]]:
    proc = subprocess.run([sys.executable, "-c", _WALK], capture_output=True, text=True,
                          check=True, cwd=REPO)
    return {path: (code, text) for path, (code, text) in json.loads(proc.stdout).items()}


def test_every_help_has_no_python_types_and_ends_with_examples() -> None:
    helps = _every_help()
    assert len(helps) > 50 and "runs resume" in helps and "backfill show" in helps
    for path, (code, text) in helps.items():
        assert code == 0, (path, text)
        assert "Usage: flowstone" in text, path
        for line in text.splitlines():
            if line.lstrip(" │").startswith("$ flowstone"):
                continue  # an example command may quote anything
            assert not PYTHON_LOOK.search(line), (path, line)
        tail = text.rstrip().split("Examples:")
        assert len(tail) == 2, (path, "no Examples: block")
        examples = [ln.strip() for ln in tail[1].splitlines() if ln.strip()]
        assert 2 <= len(examples) <= 3, (path, examples)
        assert all(ln.startswith("$ flowstone") for ln in examples), (path, examples)


def test_usage_lines_use_metavars() -> None:
    helps = _every_help()
    usage = {path: next(ln.strip() for ln in text.splitlines() if "Usage:" in ln)
             for path, (_code, text) in helps.items()}
    assert usage["materialize"] == "Usage: flowstone materialize [OPTIONS] SELECTOR..."
    assert usage["list"] == "Usage: flowstone list [OPTIONS] [SELECTOR]..."
    assert usage["runs show"] == "Usage: flowstone runs show [OPTIONS] RUN_ID"
    assert usage["partitions add"] == "Usage: flowstone partitions add [OPTIONS] NAME KEYS..."
    materialize = helps["materialize"][1]
    for option, metavar in (("--partitions", "START..END"), ("--partition", "KEY"),
                            ("--step-timeout", "DURATION"), ("--workers", "N"),
                            ("--tag", "KEY=VALUE"), ("--exclude", "SELECTOR"),
                            ("--executor", "inline|process")):
        assert re.search(re.escape(option) + r"\s+(-\w\s+)?" + re.escape(metavar), materialize), \
            option
    # A flag shows no value type at all.
    assert re.search(r"--force\s{2,}Run every selected step", materialize)


def test_executor_help_says_what_the_default_is() -> None:
    result = run_cli("materialize", "--help", env={"COLUMNS": "200"})
    assert result.code == 0
    line = next(ln for ln in result.stdout.splitlines() if "--executor" in ln)
    assert "default: the type in flowstone.toml's [executor] table, else process" in line
    assert "default:  type" not in result.stdout


def test_help_topics() -> None:
    topics = run_cli("help")
    assert topics.code == 0
    for topic in ("selection", "partitions", "exit-codes"):
        assert topic in topics.stdout
    selection = run_cli("help", "selection")
    assert selection.code == 0
    assert "status:stale" in selection.stdout and "@name" in selection.stdout
    assert "docs/cli.md#selection" in selection.stdout
    codes = run_cli("help", "exit-codes")
    assert codes.code == 0 and "130" in codes.stdout and "waiting for approval" in codes.stdout
    assert "docs/partitions.md" in run_cli("help", "partitions").stdout
    unknown = run_cli("help", "nope")
    assert unknown.code == 2
    assert "no help topic `nope`" in unknown.stderr and "selection" in unknown.stderr


def test_help_topics_stay_light() -> None:
    code = ("import sys, io, contextlib\n"
            "from flowstone_cli.cli.main import main\n"
            "with contextlib.redirect_stdout(io.StringIO()):\n"
            "    main(['help', 'selection'])\n"
            "print(' '.join(sorted(m for m in sys.modules if m.split('.')[0] in "
            "{'duckdb', 'pyarrow', 'pandas'})))\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True, cwd=REPO)
    assert proc.stdout.strip() == ""  # like `flowstone list`: no storage library
