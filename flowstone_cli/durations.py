"""Parsing of human durations such as `30s`, `10m`, `6h`, `2d` or `1h30m`."""

from __future__ import annotations

import re
from datetime import timedelta

from flowstone_cli.errors import UsageError

_PART = re.compile(r"(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)")
_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(text: str | int | float | timedelta, *, what: str = "duration") -> timedelta:
    """Parse `text` into a positive `timedelta`.

    Accepts a number of seconds, a `timedelta`, or a string of one or more `<number><unit>` parts
    with units ms, s, m, h, d, w (e.g. `"90s"`, `"1h30m"`).

    Raises:
        UsageError: the text is not a duration or is not positive.
    """
    if isinstance(text, timedelta):
        seconds = text.total_seconds()
    elif isinstance(text, (int, float)) and not isinstance(text, bool):
        seconds = float(text)
    elif isinstance(text, str):
        compact = text.strip().lower()
        pos, seconds = 0, 0.0
        for match in _PART.finditer(compact):
            if match.start() != pos and compact[pos:match.start()].strip():
                break
            seconds += float(match.group(1)) * _UNITS[match.group(2)]
            pos = match.end()
        if not compact or compact[pos:].strip():
            raise UsageError(f"{what} {text!r} is not a duration",
                             hint="Write it like `30s`, `10m`, `6h`, `2d` or `1h30m`.")
    else:
        raise UsageError(f"{what} {text!r} is not a duration",
                         hint="Write it like `30s`, `10m`, `6h`, `2d` or `1h30m`.")
    if seconds <= 0:
        raise UsageError(f"{what} {text!r} must be positive", hint="Give a duration above zero.")
    return timedelta(seconds=seconds)
