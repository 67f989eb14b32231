"""Identifiers and clock for metadata records: random step/event ids, time-sortable run ids."""

from __future__ import annotations

import secrets
from datetime import datetime, timezone


def utcnow() -> datetime:
    """The current time as a timezone-aware UTC `datetime` (what every record stores)."""
    return datetime.now(timezone.utc)


def new_id() -> str:
    """A random 16-hex-character id for a step, event or other record.

    64 random bits: the store relies on this for uniqueness instead of a primary-key index.
    """
    return secrets.token_hex(8)


def new_run_id(now: datetime | None = None) -> str:
    """A run id that sorts by start time: `YYYYMMDD-HHMMSS-` (UTC) plus 6 random hex characters.

    Args:
        now: the run's start time (aware); defaults to `utcnow()`.

    Returns:
        e.g. `20250115-093012-4f1a2b`.
    """
    moment = utcnow() if now is None else now.astimezone(timezone.utc)
    return moment.strftime("%Y%m%d-%H%M%S-") + secrets.token_hex(3)
