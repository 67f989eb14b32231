"""JSON merge patch (RFC 7396): how an approver modifies a JSON-like value before approving."""

from __future__ import annotations

import copy
import hashlib
import json
from typing import Any

from flowstone_cli.errors import UsageError


def merge_patch(target: Any, patch: Any) -> Any:
    """Apply `patch` to `target` as RFC 7396 says; `target` is not modified.

    Objects merge key by key (a null value removes the key); anything else replaces.
    """
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def json_like(value: Any) -> bool:
    """Whether `value` is made only of dicts with string keys, lists, str, numbers, bools, None."""
    if value is None or isinstance(value, (str, bool, int, float)):
        return True
    if isinstance(value, (list, tuple)):
        return all(json_like(v) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and json_like(v) for k, v in value.items())
    return False


def canonical_hash(value: Any) -> str:
    """sha256 of the canonical JSON of a JSON-like value (sorted keys, compact)."""
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


# Merging, hashing, copying and storing a patch are recursive; a patch nested deeper than this is
# refused up front instead of failing half-way with a RecursionError.
MAX_PATCH_DEPTH = 64


def nesting_depth(value: Any) -> int:
    """How deeply lists and objects nest in a JSON-like value (a scalar is 0); not recursive."""
    deepest = 0
    stack = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        deepest = max(deepest, depth)
        if isinstance(item, dict):
            stack.extend((v, depth + 1) for v in item.values())
        elif isinstance(item, (list, tuple)):
            stack.extend((v, depth + 1) for v in item)
    return deepest


def load_patch(text: str, source: str) -> Any:
    """Parse a patch file's text.

    Raises:
        UsageError: not valid JSON, or nested more than `MAX_PATCH_DEPTH` levels.
    """
    too_deep = UsageError(f"{source} nests lists or objects more than {MAX_PATCH_DEPTH} levels "
                          "deep", hint="A merge patch changes a few fields; flatten it.")
    try:
        patch = json.loads(text)
    except json.JSONDecodeError as exc:
        raise UsageError(f"{source} is not valid JSON: {exc}",
                         hint="A merge patch is a JSON object, e.g. {\"title\": \"Fixed\"}.") \
            from None
    except RecursionError:
        raise too_deep from None
    if nesting_depth(patch) > MAX_PATCH_DEPTH:
        raise too_deep
    return patch
