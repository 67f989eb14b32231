"""Hiding resolved secrets: in text, in JSON text, and in structured values before they are
serialised.

A secret may reach an output in three spellings: as it is, JSON-escaped with `ensure_ascii`
(`Pa\\"ss\\\\w\\u00f6rd`), and JSON-escaped without it (`Pa\\"ss\\\\wörd`). `Redactor.text`
replaces all three, so text that already holds serialised JSON is safe too; `Redactor.value`
walks dicts, lists and tuples and redacts every string (keys included) so a value is clean
before any serialiser sees it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

MASK = "***"
# Shorter values would mask ordinary words and numbers everywhere; they are not secrets anyway.
MIN_SECRET_LENGTH = 3


def _spellings(secret: str) -> set[str]:
    forms = {secret, json.dumps(secret)[1:-1], json.dumps(secret, ensure_ascii=False)[1:-1]}
    # A JSON document embedded in a JSON string (a payload stored as text, then printed with
    # --json) escapes the secret twice.
    forms |= {json.dumps(form)[1:-1] for form in list(forms)}
    return {form for form in forms if len(form) >= MIN_SECRET_LENGTH}


class Redactor:
    """Replaces every spelling of the given secrets with `***`.

    Args:
        secrets: resolved secret values; values shorter than 3 characters are ignored.
    """

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self.secrets = frozenset(s for s in secrets if len(s) >= MIN_SECRET_LENGTH)
        forms: set[str] = set()
        for secret in self.secrets:
            forms |= _spellings(secret)
        # Longest first, so a secret that contains another is masked whole.
        self._forms = tuple(sorted(forms, key=len, reverse=True))

    def __bool__(self) -> bool:
        return bool(self._forms)

    def text(self, text: str) -> str:
        """`text` with every spelling of every secret replaced by `***`."""
        for form in self._forms:
            if form in text:
                text = text.replace(form, MASK)
        return text

    def value(self, value: Any) -> Any:
        """`value` with every string inside it (dict keys included) redacted.

        Dicts, lists and tuples are copied; other objects are returned as they are (a
        serialiser's `default=str` output is caught by `text` on the serialised result).
        """
        if not self._forms:
            return value
        return self._walk(value, 0)

    def _walk(self, value: Any, depth: int) -> Any:
        if isinstance(value, str):
            return self.text(value)
        if depth > 200:  # a structure this deep is refused by the JSON encoder anyway
            return value
        if isinstance(value, dict):
            return {self._walk(k, depth + 1): self._walk(v, depth + 1) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return type(value)(self._walk(v, depth + 1) for v in value) \
                if type(value) in (list, tuple) else [self._walk(v, depth + 1) for v in value]
        return value


NO_SECRETS = Redactor()
