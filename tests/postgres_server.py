"""A real, throwaway PostgreSQL server in a temporary directory, for tests and benchmarks.

`initdb` is found under `/usr/lib/postgresql/*/bin` (installed by
`scripts/install-test-services.sh`) or on PATH. PostgreSQL refuses to run as root, so as root
every server command runs through `runuser -u postgres`. The server listens on 127.0.0.1 on a
free port with its unix socket in the temporary directory, so several test sessions (pytest-xdist
workers) each run their own. Local (socket) connections are trusted; TCP connections need the
password, so tests can check what a wrong password does.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

USER = "flowstone"
PASSWORD = "s3cret-Pa55word"
DATABASE = "postgres"


def find_bin_dir() -> Path:
    """The directory holding `initdb` and `pg_ctl` (newest installed major version)."""
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"),
                        key=lambda p: int(Path(p).parent.parent.name)
                        if Path(p).parent.parent.name.isdigit() else 0)
    if candidates:
        return Path(candidates[-1]).parent
    found = shutil.which("initdb")
    if found:
        return Path(found).parent
    raise RuntimeError("PostgreSQL is not installed: run scripts/install-test-services.sh")


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class PostgresServer:
    """A running server; `dsn` connects over TCP with the password."""

    directory: Path
    port: int
    bin_dir: Path

    @property
    def dsn(self) -> str:
        return f"postgresql://{USER}:{PASSWORD}@127.0.0.1:{self.port}/{DATABASE}"

    def dsn_with(self, *, password: str | None = None, port: int | None = None) -> str:
        """The DSN with another password or port (for failure tests)."""
        pw = PASSWORD if password is None else password
        return f"postgresql://{USER}:{pw}@127.0.0.1:{port or self.port}/{DATABASE}"

    def stop(self) -> None:
        _run(self.bin_dir / "pg_ctl", "-D", str(self.directory / "data"), "-m", "fast", "-w",
             "stop", check=False)
        shutil.rmtree(self.directory, ignore_errors=True)


def _as_postgres() -> list[str]:
    return ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []


def _run(*args: object, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*_as_postgres(), *map(str, args)], capture_output=True, text=True,
                          check=check, timeout=300)


def start_server(attempts: int = 5) -> PostgresServer:
    """initdb a fresh cluster in a temporary directory and start it on a free port."""
    bin_dir = find_bin_dir()
    directory = Path(tempfile.mkdtemp(prefix="flowstone-pg-"))
    if os.geteuid() == 0:
        owner = pwd.getpwnam("postgres")
        os.chown(directory, owner.pw_uid, owner.pw_gid)
    pwfile = directory / "pw"
    pwfile.write_text(PASSWORD + "\n", encoding="utf-8")
    if os.geteuid() == 0:
        os.chown(pwfile, owner.pw_uid, owner.pw_gid)
    _run(bin_dir / "initdb", "-D", directory / "data", "-U", USER, "--auth-local=trust",
         "--auth-host=scram-sha-256", f"--pwfile={pwfile}", "-E", "UTF8", "--no-sync")
    last = ""
    for _ in range(attempts):
        port = free_port()
        options = (f"-k {directory} -c listen_addresses=127.0.0.1 -p {port} -c fsync=off "
                   "-c synchronous_commit=off -c full_page_writes=off -c max_connections=100")
        started = _run(bin_dir / "pg_ctl", "-D", directory / "data", "-o", options, "-l",
                       directory / "log", "-w", "-t", "120", "start", check=False)
        if started.returncode == 0:
            return PostgresServer(directory=directory, port=port, bin_dir=bin_dir)
        last = started.stdout + started.stderr + _tail(directory / "log")
        time.sleep(0.5)  # the port was taken in between: try another
    shutil.rmtree(directory, ignore_errors=True)
    raise RuntimeError(f"could not start PostgreSQL: {last}")


def _tail(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace")[-2000:]
    except OSError:
        return ""
