"""`${VAR}` and `${VAR:-default}` interpolation of configuration values from the environment.

Values taken from variables whose names (or whose configuration keys) look like credentials are
collected as secrets, so every output path can redact them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from flowstone_cli.errors import ConfigError

_PATTERN = re.compile(r"\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-(.*?))?\}")
_SECRETISH = re.compile(r"(secret|password|passwd|token|credential|private|api_?key|access_?key|webhook"
                        r"|(^|_)key$|(^|_)pass$|dsn)", re.IGNORECASE)


@dataclass
class Interpolator:
    """Replaces `${VAR}` references and remembers which resolved values are secrets.

    Args:
        env: the environment to read (normally `os.environ`).
        source: the file name, for error messages.
    """

    env: Mapping[str, str]
    source: str
    secrets: set[str] = field(default_factory=set)

    def resolve(self, value: Any, path: tuple[str, ...] = ()) -> Any:
        """Return `value` with every string inside it interpolated."""
        if isinstance(value, str):
            return self._string(value, path)
        if isinstance(value, dict):
            return {k: self.resolve(v, path + (str(k),)) for k, v in value.items()}
        if isinstance(value, list):
            return [self.resolve(v, path + (str(i),)) for i, v in enumerate(value)]
        return value

    def _string(self, text: str, path: tuple[str, ...]) -> str:
        key = ".".join(path)

        def replace(match: re.Match[str]) -> str:
            if match.group(0) == "$$":
                return "$"
            name, default = match.group(1), match.group(2)
            if name in self.env:
                resolved = self.env[name]
            elif default is not None:
                resolved = default
            else:
                raise ConfigError(f"{self.source}: `{key}` uses ${{{name}}} but the environment "
                                  f"variable {name} is not set",
                                  hint=f"Set {name}, or give a default: ${{{name}:-value}}.")
            if resolved and (_SECRETISH.search(name) or _SECRETISH.search(path[-1] if path
                                                                              else "")):
                self.secrets.add(resolved)
            return resolved

        return _PATTERN.sub(replace, text)


def redact(text: str, secrets: set[str] | frozenset[str]) -> str:
    """Replace every occurrence of a secret in `text` with `***`."""
    for secret in sorted(secrets, key=len, reverse=True):
        if len(secret) >= 3:
            text = text.replace(secret, "***")
    return text
