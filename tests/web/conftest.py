"""A real `flowstone ui` server in a subprocess, HTTP helpers, and one headless Chromium per
test session (Playwright driving the Debian `chromium` that `scripts/install-test-services.sh`
installs; no browser is downloaded)."""

from __future__ import annotations

import http.client
import json
import os
import re
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.cli_runner import copy_example, flowstone_executable, run_cli

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
START_TIMEOUT = 120.0


@dataclass
class UiServer:
    """A running `flowstone ui` process."""

    project: Path
    proc: subprocess.Popen[str]
    url: str = ""
    lines: list[str] = field(default_factory=list)

    @property
    def port(self) -> int:
        return int(urlsplit(self.url).port or 0)

    @property
    def token(self) -> str:
        return self.url.split("token=", 1)[1]

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def page_url(self, path: str) -> str:
        """`path` on this server with the token (as the printed URL carries it)."""
        sep = "&" if "?" in path else "?"
        return f"{self.origin}{path}{sep}token={self.token}"

    def request(self, method: str, path: str, *, body: str | None = None,
                headers: dict[str, str] | None = None, timeout: float = 60
                ) -> tuple[int, dict[str, str], str]:
        """One HTTP request with the standard library; returns status, headers and text."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            response = conn.getresponse()
            return (response.status, {k.lower(): v for k, v in response.getheaders()},
                    response.read().decode("utf-8"))
        finally:
            conn.close()

    def get(self, path: str, **kwargs: Any) -> tuple[int, dict[str, str], str]:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, fields: dict[str, str], *, token: bool = True,
             origin: str | None = "self") -> tuple[int, dict[str, str], str]:
        """A form POST as the page sends it (JSON answer)."""
        data = dict(fields)
        if token:
            data["token"] = self.token
        headers = {"Content-Type": "application/x-www-form-urlencoded",
                   "Accept": "application/json"}
        if origin is not None:
            headers["Origin"] = self.origin if origin == "self" else origin
        from urllib.parse import urlencode
        return self.request("POST", path, body=urlencode(data), headers=headers)

    def cli(self, *args: str, timeout: float = 300) -> Any:
        return run_cli("-p", str(self.project), *args, timeout=timeout)

    def stop(self) -> int:
        """Ctrl-C, then wait for the process to end."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
        return self.proc.wait(timeout=90)


def start_ui(project: Path, *args: str) -> UiServer:
    """Start `flowstone -p PROJECT ui --no-open --port 0 ARGS` and wait until it answers."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLOWSTONE_")}
    proc = subprocess.Popen([*flowstone_executable(), "-p", str(project), "ui", "--no-open",
                             "--port", "0", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, env=env)
    server = UiServer(project, proc)
    deadline = time.monotonic() + START_TIMEOUT
    assert proc.stdout is not None
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            raise AssertionError(f"flowstone ui exited: {''.join(server.lines)}")
        server.lines.append(line)
        found = re.search(r"(http://\S+\?token=\S+)", line)
        if found:
            server.url = found.group(1)
            break
    assert server.url, server.lines
    while time.monotonic() < deadline:
        try:
            if server.get("/static/app.css", timeout=10)[0] == 200:
                return server
        except OSError:
            time.sleep(0.2)
    raise AssertionError("flowstone ui did not answer")


@pytest.fixture
def example(tmp_path: Path) -> Path:
    """A fresh copy of the example project."""
    return copy_example(tmp_path)


@pytest.fixture
def ui(example: Path) -> Iterator[Callable[..., UiServer]]:
    """Start servers on the example copy (or another project); all are stopped afterwards."""
    started: list[UiServer] = []

    def start(*args: str, project: Path | None = None) -> UiServer:
        server = start_ui(project or example, *args)
        started.append(server)
        return server

    yield start
    for server in started:
        if server.proc.poll() is None:
            server.proc.kill()
            server.proc.wait(timeout=30)


def wait_for(condition: Callable[[], Any], *, timeout: float = 180.0, every: float = 0.3,
             what: str = "condition") -> Any:
    """Poll `condition` until it returns something truthy (generous: the machine is loaded)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"timed out waiting for {what}")


def run_status(server: UiServer, run_id: str) -> str | None:
    """The recorded status of a run, or None before it is recorded."""
    result = server.cli("runs", "show", run_id, "--json")
    return json.loads(result.stdout)["status"] if result.code == 0 else None


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """One headless Chromium for the whole session (start-up is the slow part)."""
    from playwright.sync_api import sync_playwright

    assert Path(CHROMIUM).exists(), "run scripts/install-test-services.sh (installs chromium)"
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, headless=True,
                                              args=CHROMIUM_ARGS, timeout=180_000)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    """A fresh browser context and page (no cookies shared between tests)."""
    context = browser.new_context(viewport={"width": 1280, "height": 860})
    context.set_default_timeout(120_000)
    tab = context.new_page()
    yield tab
    context.close()
