"""Connecting to PostgreSQL: the optional drivers, the DSN shown without its password, and
connection failures turned into clear errors.

psycopg and adbc-driver-postgresql are imported inside functions only: they come with the
`flowstone-cli[postgres]` extra, and the CLI must start without them.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from flowstone_cli.errors import ConfigError, IOManagerError
from flowstone_cli.io.filesystems import scrub

if TYPE_CHECKING:
    import adbc_driver_postgresql.dbapi as adbc
    import psycopg

EXTRA_HINT = "Install the extra: pip install 'flowstone-cli[postgres]'"
_DRIVERS = ("psycopg", "adbc_driver_postgresql")
CONNECT_TIMEOUT_SECONDS = 10


def require_drivers() -> None:
    """Raise a `ConfigError` naming the extra when psycopg or the ADBC driver is missing."""
    missing = []
    for name in _DRIVERS:
        try:
            importlib.import_module(name)
        except ImportError:
            missing.append(name)
    if missing:
        raise ConfigError(f"the postgres I/O manager needs {' and '.join(missing)}, which "
                          f"{'is' if len(missing) == 1 else 'are'} not installed",
                          hint=EXTRA_HINT)


@dataclass(frozen=True)
class Dsn:
    """A connection string and what may be shown of it.

    Attributes:
        value: the DSN as configured (with the password; never printed).
        display: `user@host:port/dbname`, without the password.
        secrets: strings to scrub from any message (the password).
    """

    value: str
    display: str
    secrets: tuple[str, ...]

    def __repr__(self) -> str:
        return f"Dsn({self.display!r})"


def parse_dsn(value: Any) -> Dsn:
    """Validate a DSN (URL or `key=value` form) and describe it without its password.

    Raises:
        ConfigError: not a string, or libpq cannot parse it (the message never shows it).
    """
    # lazy: optional dependency of the [postgres] extra
    from psycopg.conninfo import conninfo_to_dict

    if not isinstance(value, str) or not value.strip():
        raise ConfigError("postgres I/O manager: `dsn` must be a non-empty connection string",
                          hint='For example dsn = "${PG_DSN}" with '
                               "PG_DSN=postgresql://user:password@host:5432/db.")
    try:
        parts = conninfo_to_dict(value)
    except Exception:  # noqa: BLE001 - libpq's message may quote the DSN, password included
        raise ConfigError("postgres I/O manager: `dsn` is not a valid PostgreSQL connection "
                          "string", hint="Use postgresql://user:password@host:port/dbname or "
                                         "'host=... user=... dbname=...'.") from None
    password = str(parts.get("password") or "")
    host = str(parts.get("host") or parts.get("hostaddr") or "localhost")
    port = str(parts.get("port") or "5432")
    user = str(parts.get("user") or "")
    dbname = str(parts.get("dbname") or user or "")
    display = f"{user + '@' if user else ''}{host}:{port}/{dbname}"
    return Dsn(value=value, display=display, secrets=(password,) if password else ())


def connection_error(dsn: Dsn, exc: BaseException) -> IOManagerError:
    """A failure to connect, said plainly, without the password."""
    text = scrub(" ".join(str(exc).split()), dsn.secrets)
    lowered = text.lower()
    if "password authentication failed" in lowered or "no password supplied" in lowered:
        hint = "Check the user name and password in the DSN (the `dsn` option)."
        retryable = False
    elif "does not exist" in lowered:
        hint = "Check the database and user names in the DSN."
        retryable = False
    else:
        hint = "Check that the server is running and reachable, and the DSN's host and port."
        retryable = True
    for prefix in ("IO: [libpq] Failed to connect: ", "connection failed: "):
        text = text.removeprefix(prefix)
    return IOManagerError(f"cannot connect to PostgreSQL at {dsn.display}: {text}", hint=hint,
                          retryable=retryable)


def connect_psycopg(dsn: Dsn) -> psycopg.Connection[Any]:
    """A psycopg connection (not autocommit), or `IOManagerError` without the password."""
    # lazy: optional dependency of the [postgres] extra
    import psycopg

    try:
        return psycopg.connect(dsn.value, connect_timeout=CONNECT_TIMEOUT_SECONDS)
    except psycopg.Error as exc:
        raise connection_error(dsn, exc) from None


def connect_adbc(dsn: Dsn) -> adbc.Connection:
    """An ADBC connection (not autocommit), or `IOManagerError` without the password."""
    # lazy: optional dependency of the [postgres] extra
    import adbc_driver_manager
    import adbc_driver_postgresql.dbapi as adbc_dbapi

    try:
        return adbc_dbapi.connect(dsn.value)
    except adbc_driver_manager.Error as exc:
        raise connection_error(dsn, exc) from None


def health_problem(dsn: Dsn) -> str | None:
    """None when the server answers `SELECT 1`, else what went wrong (no password)."""
    try:
        with connect_psycopg(dsn) as con:
            con.execute("SELECT 1").fetchone()
    except IOManagerError as exc:
        return exc.message
    return None
