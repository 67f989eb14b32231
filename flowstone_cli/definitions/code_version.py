"""Default code versions: a hash of a function's code, blind to docstrings, comments and layout.

The hash is taken over the function's syntax tree with its docstring and decorators removed, so
reformatting, re-wrapping a docstring or editing a comment never marks an asset as changed, while
any change to what the function does will.
"""

from __future__ import annotations

import ast
import hashlib
import inspect
import os
import textwrap
from collections.abc import Callable
from functools import lru_cache
from typing import Any

_FunctionNode = ast.FunctionDef | ast.AsyncFunctionDef


@lru_cache(maxsize=4096)
def _functions_by_line(filename: str, mtime_ns: int) -> dict[int, _FunctionNode]:
    """Parse a source file once and index its function definitions by their first lines.

    Both the `def` line and the first decorator line are indexed because `co_firstlineno`
    points at the first decorator of a decorated function.
    """
    del mtime_ns  # part of the cache key only: an edited file is parsed again
    try:
        with open(filename, "rb") as handle:
            tree = ast.parse(handle.read(), filename=filename)
    except (OSError, SyntaxError, ValueError):
        return {}
    index: dict[int, _FunctionNode] = {}
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            index.setdefault(node.lineno, node)
            if node.decorator_list:
                index.setdefault(node.decorator_list[0].lineno, node)
    return index


def _find_node(fn: Callable[..., Any]) -> _FunctionNode | None:
    code = getattr(fn, "__code__", None)
    if code is None:
        return None
    try:
        mtime = os.stat(code.co_filename).st_mtime_ns
    except OSError:
        return None
    node = _functions_by_line(code.co_filename, mtime).get(code.co_firstlineno)
    if node is not None and node.name == fn.__name__:
        return node
    return None


def _strip(node: _FunctionNode) -> str:
    body = list(node.body)
    if (body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant)
            and isinstance(body[0].value.value, str)):
        body = body[1:]
    # Dump only what the function does: its name, arguments and body, without positions.
    parts = [node.name, ast.dump(node.args, include_attributes=False)]
    parts.extend(ast.dump(stmt, include_attributes=False) for stmt in body)
    return "\n".join(parts)


def function_code_version(fn: Callable[..., Any]) -> str:
    """Return a 16-hex-character hash of `fn`'s code without docstring, comments or decorators.

    Falls back to hashing the compiled bytecode when the source is not available (functions
    made with `exec`, lambdas in a REPL).
    """
    node = _find_node(fn)
    if node is None:
        try:
            source = textwrap.dedent(inspect.getsource(fn))
            parsed = ast.parse(source).body[0]
            if isinstance(parsed, (ast.FunctionDef, ast.AsyncFunctionDef)):
                node = parsed
        except (OSError, TypeError, SyntaxError, IndexError):
            node = None
    if node is not None:
        text = _strip(node)
    else:
        code = getattr(fn, "__code__", None)
        text = repr((code.co_code, code.co_consts, code.co_names)) if code else repr(fn)
    return hashlib.sha256(text.encode()).hexdigest()[:16]
