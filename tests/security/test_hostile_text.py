"""Hostile text from users: names with a trailing newline, terminal escapes in `--by`, `--tag` and
error messages, and merge patches nested deep enough to blow the recursion limit."""

from __future__ import annotations

import os
import pty
import select
import subprocess
from pathlib import Path
from textwrap import dedent

from tests.cli_runner import copy_fixture, flowstone_executable, run_cli

TITLE = "\x1b]0;pwned\x07"  # sets the terminal window's title
CLEAR = "\x1b[2J"           # clears the screen


def small_project(tmp_path: Path, body: str) -> Path:
    project = tmp_path / "hostile"
    (project / "assets").mkdir(parents=True)
    (project / "flowstone.toml").write_text('[project]\nname = "hostile"\n\n[executor]\n'
                                            'type = "inline"\n')
    (project / "assets" / "things.py").write_text(dedent(body))
    return project


def test_an_asset_name_with_a_trailing_newline_fails_check(tmp_path: Path) -> None:
    project = small_project(tmp_path, """
        from flowstone_cli import asset


        @asset(name="report\\n")
        def report():
            return 1
        """)
    result = run_cli("-p", str(project), "check")
    assert result.code == 2, result.stdout + result.stderr
    assert "not a valid identifier" in result.stderr


def test_a_tag_key_with_a_trailing_newline_is_refused(tmp_path: Path) -> None:
    project = small_project(tmp_path, """
        from flowstone_cli import asset


        @asset
        def report():
            return 1
        """)
    tagged = run_cli("-p", str(project), "materialize", "report", "--tag", "team\n=data")
    assert tagged.code == 2, tagged.stdout + tagged.stderr
    # (A selection is split on whitespace, so "report\n" selects `report`: nothing to refuse.)


def run_on_terminal(*args: str) -> str:
    """Run `flowstone ARGS` with stdout and stderr on a pseudo-terminal; return what it printed."""
    leader, follower = pty.openpty()
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLOWSTONE_")}
    env.update({"COLUMNS": "400", "LINES": "50", "TERM": "xterm"})
    proc = subprocess.Popen([*flowstone_executable(), *args], stdin=subprocess.DEVNULL,
                            stdout=follower, stderr=follower, env=env)
    os.close(follower)
    chunks: list[bytes] = []
    while True:
        ready, _, _ = select.select([leader], [], [], 120)
        if not ready:
            proc.kill()
            break
        try:
            data = os.read(leader, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    proc.wait(timeout=120)
    os.close(leader)
    return b"".join(chunks).decode(errors="replace")


def test_terminal_escapes_in_by_tag_and_errors_are_shown_escaped(tmp_path: Path) -> None:
    project = small_project(tmp_path, f"""
        from flowstone_cli import asset


        @asset
        def report():
            raise RuntimeError({("boom " + TITLE + CLEAR)!r})
        """)
    ran = run_cli("-p", str(project), "materialize", "report", "--by", f"eve{TITLE}",
                  "--tag", f"note=x{CLEAR}")
    assert ran.code == 1, ran.stdout + ran.stderr
    run_id = run_cli("-p", str(project), "runs", "list", "--json").json()[0]["run_id"]
    outputs = {
        "materialize (no tty)": ran.stdout + ran.stderr,
        "runs list (no tty)": run_cli("-p", str(project), "runs", "list").stdout,
        "runs show (no tty)": run_cli("-p", str(project), "runs", "show", run_id).stdout,
        "runs list (tty)": run_on_terminal("-p", str(project), "runs", "list"),
        "runs show (tty)": run_on_terminal("-p", str(project), "runs", "show", run_id),
        "materialize (tty)": run_on_terminal("-p", str(project), "materialize", "report",
                                             "--by", f"eve{TITLE}"),
    }
    for name, text in outputs.items():
        assert TITLE not in text and "\x1b]" not in text, name
        assert CLEAR not in text, name
        assert "\x07" not in text, name
    assert "\\x1b]0;pwned\\x07" in outputs["runs show (tty)"]
    assert "\\x1b[2J" in outputs["runs show (no tty)"]


def test_a_deeply_nested_patch_is_a_clear_error_with_exit_2(tmp_path: Path) -> None:
    project = copy_fixture("approvals", tmp_path)
    assert run_cli("-p", str(project), "materialize", "*").code == 3
    request = run_cli("-p", str(project), "checkpoints", "list", "--json").json()[0]["request_id"]
    for depth in (100_000, 500):  # past the parser's recursion limit; parses, but too deep
        patch = tmp_path / f"deep{depth}.json"
        patch.write_text('{"a": ' * depth + "1" + "}" * depth)
        result = run_cli("-p", str(project), "approve", request, "--patch", str(patch))
        assert result.code == 2, result.stdout + result.stderr
        assert "levels deep" in result.stderr and "RecursionError" not in result.stderr
    pending = run_cli("-p", str(project), "checkpoints", "list", "--json").json()
    assert pending[0]["status"] == "pending"
