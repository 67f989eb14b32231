"""The docs' examples are run: `# file:` blocks become a project that must check and
materialize, and `$ flowstone ...` console lines must exit as documented."""

from __future__ import annotations

import re
import shlex
import shutil
from pathlib import Path

import pytest

from tests.cli_runner import REPO, run_cli

# Guides whose examples need a service are run by their own tests, which start it.
SERVICE_DOCS = {"postgres.md": "tests/io/postgres/test_docs_example.py"}
DOCS = [d for d in sorted((REPO / "docs").glob("*.md")) if d.name not in SERVICE_DOCS] \
    + [REPO / "README.md"]
_BLOCK = re.compile(r"```(\w+)\n(.*?)```", re.DOTALL)


def _blocks(path: Path) -> list[tuple[str, str]]:
    return _BLOCK.findall(path.read_text(encoding="utf-8"))


def _files(path: Path) -> dict[str, str]:
    files = {}
    for _, body in _blocks(path):
        first, _, rest = body.partition("\n")
        match = re.match(r"#\s*file:\s*(\S+)", first)
        if match:
            files[match.group(1)] = rest
    return files


def _console_lines(path: Path) -> list[tuple[list[str], int]]:
    lines = []
    for lang, body in _blocks(path):
        if lang != "console":
            continue
        for line in body.splitlines():
            if line.startswith("$ flowstone"):
                command, _, comment = line[2:].partition("#")
                expected = re.search(r"exit (\d+)", comment)
                lines.append((shlex.split(command)[1:], int(expected.group(1)) if expected
                              else 0))
    return lines


@pytest.mark.parametrize("doc", [d for d in DOCS if _files(d)], ids=lambda p: p.name)
def test_doc_files_form_a_working_project(doc: Path, tmp_path: Path) -> None:
    project = tmp_path / "project"
    (project / "assets").mkdir(parents=True)
    files = _files(doc)
    files.setdefault("flowstone.toml", '[project]\nname = "docs"\n')
    for name, text in files.items():
        target = project / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    checked = run_cli("check", cwd=project)
    assert checked.code == 0, checked.stderr
    # Docs that show their own commands are run by those; others must materialize as a whole.
    if not _console_lines(doc) and any(name.endswith(".py") and name.startswith("assets/")
                                       for name in files):
        ran = run_cli("materialize", "*", cwd=project)
        assert ran.code == 0, ran.stdout + ran.stderr
    for args, expected in _console_lines(doc):
        result = run_cli(*args, cwd=project)
        assert result.code == expected, (args, result.stdout, result.stderr)


@pytest.mark.parametrize("doc", [d for d in DOCS if _console_lines(d) and not _files(d)],
                         ids=lambda p: p.name)
def test_doc_console_examples_run_on_the_example_project(doc: Path, tmp_path: Path) -> None:
    shutil.copytree(REPO / "example_project", tmp_path / "example_project",
                    ignore=shutil.ignore_patterns("data", ".flowstone", "__pycache__"))
    for args, expected in _console_lines(doc):
        result = run_cli(*args, cwd=tmp_path)
        assert result.code == expected, (args, result.stdout, result.stderr)
