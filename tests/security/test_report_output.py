"""`report --output` never destroys the metadata store, `.flowstone/`, or a file that is not a
previous report (unless `--force`)."""

from __future__ import annotations

from pathlib import Path

from tests.cli_runner import run_cli
from tests.security.test_hostile_text import small_project


def test_report_output_refuses_the_store_private_folder_and_foreign_files(tmp_path: Path
                                                                         ) -> None:
    project = small_project(tmp_path, """
        from flowstone_cli import asset


        @asset
        def report():
            return 1
        """)
    p = ["-p", str(project)]
    assert run_cli(*p, "materialize", "report").code == 0
    store = project / "data" / "flowstone.duckdb"
    before = store.read_bytes()
    for target in (store, Path("data/flowstone.duckdb"), project / ".flowstone" / "r.md"):
        refused = run_cli(*p, "report", "--output", str(target), cwd=project)
        assert refused.code == 2, refused.stdout + refused.stderr
        assert "refusing" in refused.stderr
    link = tmp_path / "innocent.md"
    link.symlink_to(store)
    assert run_cli(*p, "report", "--output", str(link)).code == 2
    assert store.read_bytes() == before
    assert run_cli(*p, "status").code == 0

    notes = tmp_path / "notes.md"
    notes.write_text("my own notes\n")
    refused = run_cli(*p, "report", "--output", str(notes))
    assert refused.code == 2 and "--force" in refused.stderr
    assert notes.read_text() == "my own notes\n"

    for fmt in ("md", "html", "json", "csv"):
        out = tmp_path / f"report.{fmt}"
        assert run_cli(*p, "report", "-f", fmt, "--output", str(out)).code == 0
        again = run_cli(*p, "report", "-f", fmt, "--output", str(out))
        assert again.code == 0, f"a previous {fmt} report is replaced: {again.stderr}"
    forced = run_cli(*p, "report", "--output", str(notes), "--force")
    assert forced.code == 0 and notes.read_text().startswith("# FlowStone report")
