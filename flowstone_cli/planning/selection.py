"""dbt-style selection expressions over a project's assets.

A selection is one or more space-separated terms; their union is selected, minus `--exclude`.
Each term is a *method* optionally wrapped in graph operators:

    name            the asset itself
    +name / name+   with all upstream / downstream assets
    2+name / name+1 with upstream / downstream up to that many levels
    +name+          both directions
    group:NAME      every asset of a group
    tag:KEY         every asset having tag KEY; tag:KEY=VALUE with that value
    *               every asset

A term that matches nothing is an error, never an empty run.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from flowstone_cli.definitions.definitions import Definitions, did_you_mean
from flowstone_cli.errors import SelectionError

_TERM = re.compile(r"^(?:(?P<up>\d*)\+)?(?P<method>.+?)(?:\+(?P<down>\d*))?$")


@dataclass(frozen=True)
class Term:
    """One parsed selection term.

    Attributes:
        text: the term as written.
        method: `name`, `group`, `tag` or `all`.
        value: the asset name, group name or tag key.
        tag_value: for `tag:KEY=VALUE`, the value.
        up: levels of upstream to add (None: none; -1: all).
        down: levels of downstream to add (None: none; -1: all).
    """

    text: str
    method: str
    value: str
    tag_value: str | None = None
    up: int | None = None
    down: int | None = None


def _levels(text: str | None) -> int | None:
    if text is None:
        return None
    return int(text) if text else -1


def parse_term(text: str) -> Term:
    """Parse one selection term.

    Raises:
        SelectionError: the term is malformed.
    """
    match = _TERM.fullmatch(text)
    if not match or not match.group("method"):
        raise SelectionError(f"cannot parse selection term `{text}`",
                             hint="Use name, +name, name+, 2+name, group:NAME, tag:KEY=VALUE or *.")
    core = match.group("method")
    up, down = _levels(match.group("up")), _levels(match.group("down"))
    if core == "*":
        return Term(text, "all", "*", up=up, down=down)
    if ":" in core:
        method, _, value = core.partition(":")
        if method == "group" and value:
            return Term(text, "group", value, up=up, down=down)
        if method == "tag" and value:
            key, eq, tag_value = value.partition("=")
            if key:
                return Term(text, "tag", key, tag_value if eq else None, up=up, down=down)
        raise SelectionError(f"unknown selection method in `{text}`",
                             hint="Methods are group:NAME and tag:KEY or tag:KEY=VALUE.")
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", core):
        raise SelectionError(f"`{core}` in selection `{text}` is not an asset name",
                             hint="Use name, +name, name+, 2+name, group:NAME, tag:KEY=VALUE or *.")
    return Term(text, "name", core, up=up, down=down)


def split_terms(expressions: Iterable[str]) -> list[str]:
    """Split selection arguments into terms (each argument may hold several, space-separated)."""
    terms: list[str] = []
    for expression in expressions:
        terms.extend(shlex.split(expression))
    return terms


@dataclass(frozen=True)
class Selection:
    """The assets a selection picked, in topological order, with why each was included.

    Attributes:
        assets: selected asset names, dependencies first.
        reasons: asset -> why it is included ("selected", "upstream of x", "downstream of x").
    """

    assets: tuple[str, ...]
    reasons: Mapping[str, str]

    def __contains__(self, name: object) -> bool:
        return name in self.reasons


def _match(term: Term, definitions: Definitions) -> list[str]:
    specs = definitions.assets
    if term.method == "all":
        if not specs:
            raise SelectionError(f"selection `{term.text}` matches no asset: the project has "
                                 "no assets", hint="Define assets with @asset in the assets "
                                                   "folder.")
        return list(specs)
    if term.method == "name":
        if term.value not in specs:
            raise SelectionError(f"selection `{term.text}` matches no asset: no asset named "
                                 f"`{term.value}`{did_you_mean(term.value, specs)}",
                                 hint="Run `flowstone list` to see the assets.")
        return [term.value]
    if term.method == "group":
        found = [n for n, s in specs.items() if s.group == term.value]
        if not found:
            raise SelectionError(f"selection `{term.text}` matches no asset: no group "
                                 f"`{term.value}`{did_you_mean(term.value, definitions.groups)}",
                                 hint=f"Groups: {', '.join(definitions.groups)}.")
        return found
    found = [n for n, s in specs.items() if term.value in s.tags
             and (term.tag_value is None or s.tags[term.value] == term.tag_value)]
    if not found:
        raise SelectionError(f"selection `{term.text}` matches no asset",
                             hint="Check the tag with `flowstone list`.")
    return found


def _expand(term: Term, definitions: Definitions) -> dict[str, str]:
    chosen: dict[str, str] = {}
    dag = definitions.dag
    for name in _match(term, definitions):
        chosen.setdefault(name, "selected")
        if term.up is not None:
            for other in dag.ancestors(name, None if term.up < 0 else term.up):
                chosen.setdefault(other, f"upstream of {name}")
        if term.down is not None:
            for other in dag.descendants(name, None if term.down < 0 else term.down):
                chosen.setdefault(other, f"downstream of {name}")
    return chosen


def select(definitions: Definitions, expressions: Iterable[str],
           exclude: Iterable[str] = ()) -> Selection:
    """Evaluate selection expressions against the project's definitions.

    Raises:
        SelectionError: a term is malformed or matches nothing, or nothing is left after
            `exclude`.
    """
    terms = split_terms(expressions)
    if not terms:
        raise SelectionError("no selection given", hint="Select assets, e.g. `'*'` or `+name`.")
    reasons: dict[str, str] = {}
    for term in terms:
        for name, reason in _expand(parse_term(term), definitions).items():
            if reasons.get(name) != "selected":
                reasons[name] = reason if name not in reasons or reason == "selected" \
                    else reasons[name]
    for term in split_terms(exclude):
        for name in _expand(parse_term(term), definitions):
            reasons.pop(name, None)
    if not reasons:
        raise SelectionError("the selection is empty after --exclude",
                             hint="Exclude less, or select more.")
    order = tuple(n for n in definitions.order if n in reasons)
    return Selection(assets=order, reasons={n: reasons[n] for n in order})
