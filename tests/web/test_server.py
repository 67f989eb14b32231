"""`flowstone ui` over plain HTTP: pages, the token and origin checks, read-only mode, the live
event stream, detached launches, Ctrl-C with a stream open, and the missing-extra message."""

from __future__ import annotations

import http.client
import json
import signal
import subprocess
import sys
from pathlib import Path

from tests.cli_runner import run_cli
from tests.web.conftest import run_status, wait_for


def test_every_page_needs_the_token_then_renders(ui) -> None:
    server = ui()
    assert server.cli("backfill", "+daily_report", "--from", "2025-01-14", "--to",
                      "2025-01-15").code == 0
    backfill_id = json.loads(server.cli("backfill", "list", "--json").stdout)[0]["backfill_id"]
    status, _, body = server.get("/")
    assert status == 403 and "token" in body
    status, headers, body = server.get(f"/?token={server.token}")
    assert status == 200 and "Asset graph" in body
    cookie = headers["set-cookie"].split(";", 1)[0]
    assert "HttpOnly" in headers["set-cookie"] and "SameSite=strict" in headers["set-cookie"]
    run_id = json.loads(server.cli("runs", "list", "--json").stdout)[0]["run_id"]
    for path in ("/", "/assets/daily_report", "/assets/daily_report?partition=2025-01-15",
                 "/assets/user_profiles", "/runs", f"/runs/{run_id}", "/runs?asset=raw_events",
                 "/runs?status=succeeded", "/backfills", f"/backfills/{backfill_id}",
                 "/approvals"):
        status, _, body = server.get(path, headers={"Cookie": cookie})
        assert status == 200, (path, body[:300])
    _, _, asset_page = server.get("/assets/daily_report?partition=2025-01-15",
                                  headers={"Cookie": cookie})
    assert "Lineage of daily_report[2025-01-15]" in asset_page and "cleaned_events" in asset_page
    # The example's asset checks and their verdicts on the current values.
    _, _, checked = server.get("/assets/cleaned_events", headers={"Cookie": cookie})
    assert "<h2>Checks</h2>" in checked
    assert "cleaned_events.not_null_user_id" in checked and "error · blocking" in checked
    _, _, run_page = server.get(f"/runs/{run_id}", headers={"Cookie": cookie})
    assert 'data-status="succeeded"' in run_page and "Timeline" in run_page
    _, _, grid = server.get(f"/backfills/{backfill_id}", headers={"Cookie": cookie})
    # 4 daily assets x 2 days, and the unpartitioned user_profiles
    assert "100%" in grid and grid.count('class="cell s-succeeded"') == 9
    status, _, body = server.get("/assets/no_such_asset", headers={"Cookie": cookie})
    assert status == 404 and "no_such_asset" in body
    # A wrong token is no token.
    assert server.get("/runs?token=wrong")[0] == 403
    assert server.get("/events")[0] == 403


def test_changes_need_the_token_and_this_origin(ui) -> None:
    server = ui()
    fields = {"selection": "user_profiles"}
    assert server.post("/launch", fields, token=False)[0] == 403
    assert server.post("/launch", fields, origin="http://evil.example")[0] == 403
    assert server.post("/launch", fields, origin=None)[0] == 403
    assert server.post("/launch", fields, origin="http://localhost:1")[0] == 403
    # A page of another site pointing at this server's port is refused by its Host header too.
    status, _, _ = server.request("GET", f"/?token={server.token}",
                                  headers={"Host": "attacker.example"})
    assert status == 403
    assert json.loads(server.cli("runs", "list", "--json").stdout) == []
    status, _, body = server.post("/launch", fields)
    assert status == 200, body
    run_id = json.loads(body)["run_id"]
    assert wait_for(lambda: run_status(server, run_id) == "succeeded", what="launched run")
    shown = json.loads(server.cli("runs", "show", run_id, "--json").stdout)
    assert shown["trigger"] == "ui"


def test_read_only_shows_no_buttons_and_refuses_changes(ui, example: Path) -> None:
    assert run_cli("-p", str(example), "materialize", "+published_report", "--partition",
                   "2025-01-08").code == 3
    request_id = json.loads(run_cli("-p", str(example), "checkpoints", "list",
                                    "--json").stdout)[0]["request_id"]
    server = ui("--read-only")
    cookie = {"Cookie": f"flowstone_token_{server.port}={server.token}"}
    for path in ("/approvals", "/assets/daily_report", "/"):
        status, _, body = server.get(path, headers=cookie)
        assert status == 200
        assert "<button type=\"submit\"" not in body and "<form class=\"decide" not in body
        assert 'name="flowstone-token"' not in body
    _, _, body = server.get("/approvals", headers=cookie)
    assert request_id in body and "read-only" in body
    status, _, _ = server.post(f"/approvals/{request_id}", {"decision": "approve"})
    assert status == 403
    shown = json.loads(run_cli("-p", str(example), "checkpoints", "show", request_id,
                               "--json").stdout)
    assert shown["status"] == "pending"


def _read_event(response: http.client.HTTPResponse) -> dict[str, str]:
    """The next `event: state` block of a server-sent event stream."""
    block: dict[str, str] = {}
    while True:
        line = response.readline().decode("utf-8")
        assert line, "stream ended"
        line = line.rstrip("\n")
        if not line:
            if block.get("event") == "state":
                return block
            block = {}
            continue
        if line.startswith(":"):
            continue
        key, _, value = line.partition(": ")
        block[key] = value


def test_event_stream_pushes_each_change_with_its_cursor(ui) -> None:
    server = ui()
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=120)
    conn.request("GET", f"/events?token={server.token}")
    response = conn.getresponse()
    assert response.status == 200
    assert response.getheader("content-type").startswith("text/event-stream")
    first = _read_event(response)
    assert json.loads(first["data"])["assets"]["user_profiles"][0] == "never"
    assert server.cli("materialize", "user_profiles").code == 0
    while True:
        event = _read_event(response)
        state = json.loads(event["data"])
        if state["assets"]["user_profiles"][0] == "up_to_date":
            break
    assert int(event["id"]) > int(first["id"]) and state["version"] == int(event["id"])
    conn.close()
    # Reconnecting with the cursor of an older state gets the current one at once.
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=120)
    conn.request("GET", f"/events?token={server.token}", headers={"Last-Event-ID": first["id"]})
    again = _read_event(conn.getresponse())
    assert again["id"] == event["id"]
    conn.close()


def test_ctrl_c_stops_the_server_with_a_stream_open(ui) -> None:
    server = ui()
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=120)
    conn.request("GET", f"/events?token={server.token}")
    response = conn.getresponse()
    _read_event(response)
    server.proc.send_signal(signal.SIGINT)
    # uvicorn alone waits for open streams for ever; ours end when the server is told to stop.
    code = server.proc.wait(timeout=60)
    assert code in (0, 130)
    conn.close()


def test_approve_through_the_server_resumes_detached(ui, example: Path) -> None:
    assert run_cli("-p", str(example), "materialize", "+published_report", "--partition",
                   "2025-01-08").code == 3
    request_id = json.loads(run_cli("-p", str(example), "checkpoints", "list",
                                    "--json").stdout)[0]["request_id"]
    server = ui()
    status, _, body = server.post(f"/approvals/{request_id}", {"decision": "reject"})
    assert status == 400 and "needs a reason" in json.loads(body)["message"]
    status, _, body = server.post(f"/approvals/{request_id}",
                                  {"decision": "approve", "reason": "checked",
                                   "patch": '{"note": "fixed"}', "by": "reviewer"})
    assert status == 200, body
    answer = json.loads(body)
    shown = json.loads(server.cli("checkpoints", "show", request_id, "--json").stdout)
    assert shown["status"] == "approved" and shown["decided_by"] == "reviewer"
    assert shown["patch"] == {"note": "fixed"} and shown["reason"] == "checked"
    assert wait_for(lambda: run_status(server, answer["run_id"]) == "succeeded",
                    what="resumed run")
    published = json.loads((example / "data" / "published_report" / "2025-01-08.json")
                           .read_text())
    assert published["note"] == "fixed" and published["published"] is True
    status, _, body = server.post(f"/approvals/{request_id}",
                                  {"decision": "reject", "reason": "late"})
    assert status == 409 and "already decided" in json.loads(body)["message"]


def test_ui_without_the_extra_says_what_to_install(example: Path) -> None:
    code = ("import sys\n"
            "sys.modules['starlette'] = None\nsys.modules['uvicorn'] = None\n"
            "from flowstone_cli.cli.main import main\n"
            f"sys.exit(main(['-p', {str(example)!r}, 'ui', '--no-open']))\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120, check=False)
    assert proc.returncode == 2, proc.stderr
    assert "pip install 'flowstone-cli[ui]'" in proc.stderr + proc.stdout


def test_help_and_list_do_not_import_the_web_stack(example: Path) -> None:
    for args in (["--help"], ["-p", str(example), "list"], ["ui", "--help"]):
        code = ("import sys, io, contextlib\n"
                "from flowstone_cli.cli.main import main\n"
                "with contextlib.redirect_stdout(io.StringIO()):\n"
                f"    main({args!r})\n"
                "print(sorted({m.split('.')[0] for m in sys.modules} & "
                "{'starlette', 'uvicorn', 'anyio', 'playwright'}))\n")
        proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                              timeout=120, check=True)
        assert proc.stdout.strip().splitlines()[-1] == "[]", (args, proc.stdout)


LEAKY = '''
import os

from flowstone_cli import Output, asset


@asset(group="ops")
def leaky():
    """An asset that (wrongly) writes a secret into its metadata."""
    return Output(1, metadata={"dsn": "postgres://app:" + os.environ["UI_SECRET"] + "@db"})
'''


def test_resolved_secrets_never_reach_the_browser(ui, example: Path, monkeypatch) -> None:
    secret = "s3cr3t-&-<value>"
    monkeypatch.setenv("UI_SECRET", secret)
    toml = example / "flowstone.toml"
    toml.write_text(toml.read_text().replace(
        'description = "', 'description = "db password ${UI_SECRET}; ', 1))
    (example / "assets" / "leaky.py").write_text(LEAKY)
    assert run_cli("-p", str(example), "materialize", "leaky",
                   env={"UI_SECRET": secret}).code == 0
    server = ui()
    cookie = {"Cookie": f"flowstone_token_{server.port}={server.token}"}
    run_id = json.loads(server.cli("runs", "list", "--json").stdout)[0]["run_id"]
    for path in ("/assets/leaky", f"/runs/{run_id}", "/api/state", "/"):
        status, _, body = server.get(path, headers=cookie)
        assert status == 200
        assert "s3cr3t" not in body, path
    _, _, body = server.get("/assets/leaky", headers=cookie)
    assert "postgres://app:***@db" in body


def test_a_taken_port_is_a_usage_error(example: Path) -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        result = run_cli("-p", str(example), "ui", "--no-open", "--port", str(port))
    assert result.code == 2
    assert f"cannot listen on 127.0.0.1:{port}" in result.stderr and "--port" in result.stderr


def test_another_host_prints_a_warning(example: Path) -> None:
    from tests.cli_runner import flowstone_executable

    proc = subprocess.Popen([*flowstone_executable(), "-p", str(example), "ui", "--no-open",
                             "--host", "127.0.0.2", "--port", "0"], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    try:
        assert proc.stdout is not None
        seen = []
        for line in proc.stdout:
            seen.append(line)
            if "token=" in line:
                break
        text = "".join(seen)
        assert "warning: listening on 127.0.0.2" in text and "can approve" in text
        assert "http://127.0.0.2:" in text
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=90)


def test_page_and_cli_deciding_at_once_leave_exactly_one_decision(ui, example: Path) -> None:
    import threading

    from tests.cli_runner import flowstone_executable

    assert run_cli("-p", str(example), "materialize", "+published_report", "--partition",
                   "2025-01-08").code == 3
    request_id = json.loads(run_cli("-p", str(example), "checkpoints", "list",
                                    "--json").stdout)[0]["request_id"]
    server = ui()
    cli = subprocess.Popen([*flowstone_executable(), "-p", str(example), "approve", request_id,
                            "--by", "cli-reviewer", "--no-resume"], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True)
    answers: list[tuple[int, dict]] = []

    def page() -> None:
        status, _, body = server.post(f"/approvals/{request_id}",
                                      {"decision": "reject", "reason": "too low",
                                       "by": "page-reviewer"})
        answers.append((status, json.loads(body)))

    clicker = threading.Thread(target=page)
    clicker.start()
    out, err = cli.communicate(timeout=300)
    clicker.join(timeout=300)
    (status, body), = answers
    shown = json.loads(server.cli("checkpoints", "show", request_id, "--json").stdout)
    if shown["decided_by"] == "cli-reviewer":
        assert cli.returncode == 0 and shown["status"] == "approved"
        assert status == 409 and "already decided: approved by cli-reviewer" in body["message"]
    else:
        assert shown["decided_by"] == "page-reviewer" and shown["status"] == "rejected"
        assert status == 200 and cli.returncode == 2 and "already decided" in err
