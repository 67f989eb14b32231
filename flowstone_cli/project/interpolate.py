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
from flowstone_cli.redaction import Redactor

_PATTERN = re.compile(r"\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-(.*?))?\}")
# What docs/configuration.md promises: a variable whose name, or a configuration key whose name,
# contains one of these words anywhere (`STRIPE_KEY_LIVE`, `SIGNING_KEY_PEM`, `api_key`).
_SECRETISH = re.compile(r"(secret|password|passwd|passphrase|token|credential|private|key|auth"
                        r"|dsn|webhook|signature|cookie|(^|_)pass(_|$))", re.IGNORECASE)
# In these sections every key below the section's own name is a credential field when it (or a
# table above it, e.g. `storage_options` or `credentials`) looks like one.
_CREDENTIAL_SECTIONS = ("resources", "io_managers", "storage", "notifications")


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
            if resolved and (_SECRETISH.search(name) or _is_credential_field(path)):
                self.secrets.add(resolved)
            return resolved

        return _PATTERN.sub(replace, text)


def _is_credential_field(path: tuple[str, ...]) -> bool:
    """Whether the configuration key at `path` holds a credential."""
    if not path:
        return False
    if path[0] in _CREDENTIAL_SECTIONS:
        # [resources.NAME] / [io_managers.NAME]: the NAME itself does not make a field secret.
        fields = path[2:] if path[0] in ("resources", "io_managers", "notifications") else path[1:]
        return any(_SECRETISH.search(part) for part in fields if not part.isdigit())
    return bool(_SECRETISH.search(path[-1]))


def redact(text: str, secrets: set[str] | frozenset[str]) -> str:
    """Replace every occurrence of a secret in `text` (raw or JSON-escaped) with `***`."""
    return Redactor(secrets).text(text)
