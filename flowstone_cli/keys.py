"""Value objects shared by many layers: asset names, partition keys and their safe path forms.

Names and keys end up in file paths and object keys, so everything that could escape a storage
root (`..`, separators, NUL, absolute paths, overlong or non-NFC text) is refused here, once.
"""

from __future__ import annotations

import keyword
import re
import unicodedata

from flowstone_cli.errors import InvalidNameError

MAX_NAME_LENGTH = 128
MAX_PARTITION_KEY_LENGTH = 255

_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# Partition keys: printable ASCII letters, digits and a small set of punctuation. `=` and `,`
# only appear in multi-dimensional keys, which are split before each part is checked.
_KEY_PART = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.:+\-@ ]*$")


def validate_asset_name(name: str) -> str:
    """Return `name` if it is a valid asset name, else raise `InvalidNameError`.

    A valid name is a Python identifier (not a keyword), ASCII, at most 128 characters.
    """
    if not isinstance(name, str) or not name:
        raise InvalidNameError(f"asset name {name!r} is empty or not a string",
                               hint="Use a Python identifier such as `daily_report`.")
    if len(name) > MAX_NAME_LENGTH:
        raise InvalidNameError(f"asset name {name[:40]!r}... is longer than {MAX_NAME_LENGTH} "
                               "characters", hint="Use a shorter name.")
    if not _IDENTIFIER.fullmatch(name) or keyword.iskeyword(name):
        raise InvalidNameError(f"asset name {name!r} is not a valid identifier",
                               hint="Use letters, digits and underscores, not starting with a "
                                    "digit, e.g. `daily_report`.")
    return name


def is_valid_asset_name(name: str) -> bool:
    """True when `validate_asset_name` would accept `name`."""
    try:
        validate_asset_name(name)
    except InvalidNameError:
        return False
    return True


def validate_partition_key_part(key: str, *, what: str = "partition key") -> str:
    """Check one (single-dimension) partition key and return it.

    Refuses empty keys, `.`/`..`, path separators, NUL and control characters, keys that are not
    NFC-normalised ASCII, and keys longer than 255 characters.
    """
    if not isinstance(key, str) or not key:
        raise InvalidNameError(f"{what} {key!r} is empty or not a string",
                               hint="Give a non-empty key such as `2025-01-15` or `acme`.")
    if len(key) > MAX_PARTITION_KEY_LENGTH:
        raise InvalidNameError(f"{what} {key[:40]!r}... is {len(key)} characters long "
                               f"(at most {MAX_PARTITION_KEY_LENGTH})",
                               hint="Use a shorter key.")
    if unicodedata.normalize("NFC", key) != key or not key.isascii():
        raise InvalidNameError(f"{what} {key!r} contains non-ASCII characters",
                               hint="Keys must be plain ASCII so that look-alike keys cannot "
                                    "name different files.")
    if key in (".", "..") or not _KEY_PART.fullmatch(key) or key != key.strip():
        raise InvalidNameError(f"{what} {key!r} contains characters that are not allowed",
                               hint="Use letters, digits and `_ - . : + @`; no `/`, `\\`, `..`, "
                                    "NUL or leading/trailing spaces.")
    return key
