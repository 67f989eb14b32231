"""Who is running a command: the audit trail's `by`."""

from __future__ import annotations

import getpass
import os


def current_actor(explicit: str | None = None) -> str:
    """`--by`, else $FLOWSTONE_ACTOR, else the OS user."""
    if explicit:
        return explicit
    if os.environ.get("FLOWSTONE_ACTOR"):
        return os.environ["FLOWSTONE_ACTOR"]
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return f"uid:{os.getuid()}"
