"""Reading what users pass to time partitions: IANA zone names and start/end bounds."""

from __future__ import annotations

import re
from datetime import date, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flowstone_cli.errors import PartitionError
from flowstone_cli.partitions.definitions import show_key

_YEAR_MONTH = re.compile(r"[0-9]{4}-[0-9]{2}")
_BOUND_HINT = ("Use a date such as 2025-01-01, a datetime such as 2025-01-01T06:00 (naive values "
               "are wall-clock times in the definition's time zone), or a date/datetime object.")


def load_zone(name: object, owner: str) -> ZoneInfo:
    """The `ZoneInfo` for an IANA name, or a `PartitionError` naming the definition."""
    if not isinstance(name, str) or not name:
        raise PartitionError(f"{owner}: time zone {show_key(name)} is not a zone name",
                             hint="Use an IANA name such as `UTC` or `Europe/Berlin`.")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as err:
        raise PartitionError(f"{owner}: unknown time zone {show_key(name)}",
                             hint="Use an IANA name such as `UTC` or `Europe/Berlin` "
                                  "(see `zoneinfo.available_timezones()`).") from err


def parse_bound(value: object, what: str, owner: str) -> datetime:
    """A start/end given as `date`, `datetime` or ISO string (`YYYY-MM` too), as a datetime
    (naive or aware, as given)."""
    if isinstance(value, datetime):
        return value
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day)
    if isinstance(value, str):
        text = value.strip()
        try:
            if _YEAR_MONTH.fullmatch(text):
                return datetime(int(text[:4]), int(text[5:7]), 1)
            return datetime.fromisoformat(text)
        except ValueError as err:
            raise PartitionError(f"{owner}: {what} {show_key(value)} is not a date or datetime",
                                 hint=_BOUND_HINT) from err
    raise PartitionError(f"{owner}: {what} {show_key(value)} is not a date or datetime",
                         hint=_BOUND_HINT)
