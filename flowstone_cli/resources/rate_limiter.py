"""A rate limit shared by every process on the machine, with no server: GCRA over SQLite.

The generic cell rate algorithm keeps one number per key, the *theoretical arrival time* (TAT).
A request of `cost` units moves it forward by `cost * interval`; it may go once
`TAT - burst * interval` has passed. Each acquisition is one `BEGIN IMMEDIATE` transaction on
a WAL-mode SQLite file that reserves the caller's moment and commits; the caller then sleeps
outside the transaction. Nothing is held between calls, so a process that dies leaks nothing:
at worst its one reserved moment goes unused.
"""

from __future__ import annotations

import os
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from flowstone_cli.errors import ConfigError, ResourceError

if TYPE_CHECKING:
    import sqlite3

_UNITS = {"s": 1.0, "sec": 1.0, "second": 1.0, "seconds": 1.0,
          "m": 60.0, "min": 60.0, "minute": 60.0, "minutes": 60.0,
          "h": 3600.0, "hour": 3600.0, "hours": 3600.0,
          "d": 86400.0, "day": 86400.0, "days": 86400.0}
_RATE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*/\s*(\d+(?:\.\d+)?)?\s*([a-z]+)\s*$")


@dataclass(frozen=True)
class Rate:
    """`count` units per `period` seconds, with bursts of up to `burst` units."""

    count: float
    period: float
    burst: int = 1

    @property
    def interval(self) -> float:
        """Seconds between two units at the steady rate."""
        return self.period / self.count


def parse_rate(text: str, *, burst: int = 1) -> Rate:
    """Parse `"60/minute"`, `"50/second"`, `"10/s"`, `"1000/hour"` or `"5/10s"`.

    Raises:
        ConfigError: the text is not a rate, or a number is not positive.
    """
    match = _RATE.match(str(text).lower())
    if not match or match.group(3) not in _UNITS:
        raise ConfigError(f"rate {text!r} is not a rate",
                          hint="Write it like \"60/minute\", \"50/second\" or \"5/10s\".")
    count = float(match.group(1))
    period = float(match.group(2) or 1) * _UNITS[match.group(3)]
    if count <= 0 or period <= 0:
        raise ConfigError(f"rate {text!r} must be positive", hint="e.g. \"60/minute\"")
    if burst < 1:
        raise ConfigError(f"burst {burst} must be at least 1", hint="e.g. burst = 10")
    return Rate(count=count, period=period, burst=int(burst))


class RateLimiter:
    """GCRA buckets, one per key, in the SQLite file `path` (created on first use).

    The connection is opened lazily and reopened after a fork, so a limiter may be built before
    worker processes start.
    """

    def __init__(self, path: Path, *, busy_timeout: float = 60.0) -> None:
        self.path = Path(path)
        self.busy_timeout = busy_timeout
        self._conn: sqlite3.Connection | None = None
        self._pid = 0

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None or self._pid != os.getpid():
            import sqlite3  # only steps that use a limit pay for it

            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(self.path, timeout=self.busy_timeout, isolation_level=None,
                                   check_same_thread=False)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=OFF")
            conn.execute("CREATE TABLE IF NOT EXISTS gcra (key TEXT PRIMARY KEY, "
                         "tat REAL NOT NULL)")
            self._conn, self._pid = conn, os.getpid()
        return self._conn

    def reserve(self, key: str, rate: Rate, cost: float = 1.0) -> float:
        """Reserve `cost` units now; returns how many seconds the caller must wait first."""
        if cost <= 0:
            return 0.0
        conn = self._connection()
        conn.execute("BEGIN IMMEDIATE")
        try:
            row = conn.execute("SELECT tat FROM gcra WHERE key = ?", (key,)).fetchone()
            now = time.time()
            tat = max(row[0], now) if row else now
            new_tat = tat + cost * rate.interval
            allowed_at = new_tat - rate.burst * rate.interval
            conn.execute("INSERT INTO gcra (key, tat) VALUES (?, ?) ON CONFLICT(key) DO "
                         "UPDATE SET tat = excluded.tat", (key, new_tat))
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        return max(0.0, allowed_at - now)

    def push_back(self, key: str, rate: Rate, seconds: float) -> None:
        """Make the next use of `key` wait at least `seconds` from now (a server's
        `Retry-After`), for every process sharing the file."""
        conn = self._connection()
        conn.execute("BEGIN IMMEDIATE")
        try:
            row = conn.execute("SELECT tat FROM gcra WHERE key = ?", (key,)).fetchone()
            target = time.time() + seconds + (rate.burst - 1) * rate.interval
            if row is None or row[0] < target:
                conn.execute("INSERT INTO gcra (key, tat) VALUES (?, ?) ON CONFLICT(key) DO "
                             "UPDATE SET tat = excluded.tat", (key, target))
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    def acquire(self, key: str, rate: Rate, cost: float = 1.0) -> float:
        """Wait until `cost` units of `key` may be used; returns the seconds waited."""
        wait = self.reserve(key, rate, cost)
        if wait > 0:
            time.sleep(wait)
        return wait

    def close(self) -> None:
        """Close this process's connection."""
        if self._conn is not None and self._pid == os.getpid():
            self._conn.close()
        self._conn = None


class NamedLimits:
    """The project's `[limits.NAME]` rates over one limiter file, as `context.rate_limit` uses
    them; it also counts, per step, how often each was used and how long it waited."""

    def __init__(self, limiter: RateLimiter, rates: dict[str, Rate]) -> None:
        self.limiter = limiter
        self.rates = dict(rates)
        self._used: dict[str, dict[str, float]] = {}

    def acquire(self, name: str, cost: float = 1) -> float:
        """Wait for `cost` units of limit `name`; returns the seconds waited.

        Raises:
            ResourceError: the limit is not configured.
        """
        rate = self.rates.get(name)
        if rate is None:
            known = ", ".join(sorted(self.rates)) or "none"
            raise ResourceError(f"limit `{name}` is not configured (configured: {known})",
                                hint=f"Add [limits.{name}] with rate = \"60/minute\" to "
                                     "flowstone.toml.")
        waited = self.limiter.acquire(f"limit:{name}", rate, cost)
        used = self._used.setdefault(name, {"acquired": 0, "cost": 0.0, "waited_s": 0.0})
        used["acquired"] += 1
        used["cost"] += cost
        used["waited_s"] = round(used["waited_s"] + waited, 4)
        return waited

    def drain(self) -> dict[str, dict[str, float]]:
        """What was used since the last call (one step's worth), then start afresh."""
        used, self._used = self._used, {}
        return used
