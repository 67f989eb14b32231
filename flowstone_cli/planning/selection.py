"""dbt-style selection expressions over a project's assets.

A selection is one or more space-separated terms; their union is selected, minus `--exclude`.
Each term is a *method* optionally wrapped in graph operators:

    name            the asset itself
    +name / name+   with all upstream / downstream assets
    2+name / name+1 with upstream / downstream up to that many levels
    +name+          both directions
    @name           the asset, its downstream, and everything that downstream needs
    group:NAME      every asset of a group
    tag:KEY         every asset having tag KEY; tag:KEY=VALUE with that value
    *               every asset
    monthly_*       names, group names and tag values may be globs (`*`, `?`, `[abc]`)
    a,b             intersection: the assets every comma-separated part selects
    status:stale    state over the metadata store: `status:stale` (what `status` lists),
    status:failed   `status:failed` (a partition's last attempt failed), `status:never` (never
    status:never    materialized), `modified` (code changed since the last materialization,
    modified        or never materialized); `+` works on all of them (`modified+`)

A term that matches nothing is an error, never an empty run; a state term that matches nothing
is not (nothing is stale), but a selection left empty by it is `NothingSelectedError`.
"""

from __future__ import annotations

import fnmatch
import re
import shlex
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from flowstone_cli.definitions.definitions import Definitions, did_you_mean
from flowstone_cli.errors import NothingSelectedError, SelectionError

_TERM = re.compile(r"^(?:(?P<up>\d*)\+)?(?P<method>.+?)(?:\+(?P<down>\d*))?$")
_GLOB = re.compile(r"[*?\[]")
_NAME_GLOB = re.compile(r"^[A-Za-z0-9_*?\[\]!-]+$")
STATE_TERMS = ("status:stale", "status:failed", "status:never", "modified")
_STATUS_VALUES = ("stale", "failed", "never")
_HINT = ("Use name, +name, name+, 2+name, @name, group:NAME, tag:KEY=VALUE, *, globs like "
         "monthly_*, a,b for an intersection, status:stale|failed|never or modified "
         "(`flowstone help selection`).")

# What a state term asks the metadata store: `status:stale` -> the asset names it selects.
StateLookup = Callable[[str], "set[str]"]


@dataclass(frozen=True)
class Term:
    """One parsed selection term.

    Attributes:
        text: the term as written.
        method: `name`, `group`, `tag`, `all` or `state`.
        value: the asset name (or glob), group name (or glob), tag key, or state term.
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
    at: bool = False


def _levels(text: str | None) -> int | None:
    if text is None:
        return None
    return int(text) if text else -1


def parse_term(text: str) -> Term:
    """Parse one selection term (one part of an intersection).

    Raises:
        SelectionError: the term is malformed.
    """
    if text.startswith("@"):
        inner = parse_term(text[1:])
        if inner.up is not None or inner.down is not None or inner.at:
            raise SelectionError(f"cannot parse selection term `{text}`: `@` takes no `+`",
                                 hint=_HINT)
        return Term(text, inner.method, inner.value, inner.tag_value, at=True)
    match = _TERM.fullmatch(text)
    if not match or not match.group("method"):
        raise SelectionError(f"cannot parse selection term `{text}`", hint=_HINT)
    core = match.group("method")
    up, down = _levels(match.group("up")), _levels(match.group("down"))
    if core == "*":
        return Term(text, "all", "*", up=up, down=down)
    if core in ("modified", "state:modified"):
        return Term(text, "state", "modified", up=up, down=down)
    if ":" in core:
        method, _, value = core.partition(":")
        if method == "group" and value:
            return Term(text, "group", value, up=up, down=down)
        if method == "tag" and value:
            key, eq, tag_value = value.partition("=")
            if key:
                return Term(text, "tag", key, tag_value if eq else None, up=up, down=down)
        if method == "status":
            if value in _STATUS_VALUES:
                return Term(text, "state", f"status:{value}", up=up, down=down)
            raise SelectionError(f"unknown status `{value}` in selection `{text}`"
                                 f"{did_you_mean(value, _STATUS_VALUES)}",
                                 hint="Use status:stale, status:failed or status:never.")
        raise SelectionError(f"unknown selection method in `{text}`"
                             f"{did_you_mean(method, ('group', 'tag', 'status'))}", hint=_HINT)
    if not (re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", core)
            or (_GLOB.search(core) and _NAME_GLOB.fullmatch(core))):
        raise SelectionError(f"`{core}` in selection `{text}` is not an asset name", hint=_HINT)
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


def _glob(pattern: str, names: Iterable[str]) -> list[str]:
    if not _GLOB.search(pattern):
        return [n for n in names if n == pattern]
    return [n for n in names if fnmatch.fnmatchcase(n, pattern)]


def _match(term: Term, definitions: Definitions, state: StateLookup | None) -> list[str]:
    specs = definitions.assets
    if term.method == "all":
        if not specs:
            raise SelectionError(f"selection `{term.text}` matches no asset: the project has "
                                 "no assets", hint="Define assets with @asset in the assets "
                                                   "folder.")
        return list(specs)
    if term.method == "state":
        if state is None:
            raise SelectionError(f"selection `{term.text}` needs the metadata store, which "
                                 "this command does not read", hint="Use it with list, plan, "
                                 "materialize, backfill, status or a schedule's target.")
        found = state(term.value)
        return [n for n in specs if n in found]
    if term.method == "name":
        found = _glob(term.value, specs)
        if not found:
            close = did_you_mean(term.value, specs) if not _GLOB.search(term.value) else ""
            what = "no asset named" if not _GLOB.search(term.value) else "no asset matches"
            raise SelectionError(f"selection `{term.text}` matches no asset: {what} "
                                 f"`{term.value}`{close}",
                                 hint="Run `flowstone list` to see the assets.")
        return found
    if term.method == "group":
        groups = set(_glob(term.value, definitions.groups))
        found = [n for n, s in specs.items() if s.group in groups]
        if not found:
            raise SelectionError(f"selection `{term.text}` matches no asset: no group "
                                 f"`{term.value}`{did_you_mean(term.value, definitions.groups)}",
                                 hint=f"Groups: {', '.join(definitions.groups)}.")
        return found
    found = [n for n, s in specs.items() if term.value in s.tags
             and (term.tag_value is None or _glob(term.tag_value, [s.tags[term.value]]))]
    if not found:
        raise SelectionError(f"selection `{term.text}` matches no asset",
                             hint="Check the tag with `flowstone list`.")
    return found


def _expand(term: Term, definitions: Definitions,
            state: StateLookup | None) -> dict[str, str]:
    chosen: dict[str, str] = {}
    dag = definitions.dag
    for name in _match(term, definitions, state):
        chosen.setdefault(name, "selected")
        if term.at:
            # dbt's @: the asset, everything downstream, and everything those need.
            below = dag.descendants(name, None)
            for other in below:
                chosen.setdefault(other, f"downstream of {name}")
            for other in [name, *below]:
                for needed in dag.ancestors(other, None):
                    chosen.setdefault(needed, f"upstream of {other}")
            continue
        if term.up is not None:
            for other in dag.ancestors(name, None if term.up < 0 else term.up):
                chosen.setdefault(other, f"upstream of {name}")
        if term.down is not None:
            for other in dag.descendants(name, None if term.down < 0 else term.down):
                chosen.setdefault(other, f"downstream of {name}")
    return chosen


def _evaluate(text: str, definitions: Definitions, state: StateLookup | None) -> dict[str, str]:
    """One whitespace-separated term: the intersection of its comma-separated parts."""
    parts = text.split(",")
    if any(not p for p in parts):
        raise SelectionError(f"cannot parse selection term `{text}`: empty part around `,`",
                             hint=_HINT)
    result = _expand(parse_term(parts[0]), definitions, state)
    for part in parts[1:]:
        other = _expand(parse_term(part), definitions, state)
        result = {n: r for n, r in result.items() if n in other}
    if not result and len(parts) > 1 and not any(parse_term(p).method == "state"
                                                 for p in parts):
        raise SelectionError(f"selection `{text}` matches no asset: its parts have no asset "
                             "in common", hint="Each comma-separated part must select the "
                                               "asset (an intersection).")
    return result


def uses_state(expressions: Iterable[str]) -> bool:
    """Whether any term asks the metadata store (status:..., modified)."""
    for term in split_terms(expressions):
        for part in term.split(","):
            if part and parse_term(part).method == "state":
                return True
    return False


def select(definitions: Definitions, expressions: Iterable[str],
           exclude: Iterable[str] = (), *, state: StateLookup | None = None) -> Selection:
    """Evaluate selection expressions against the project's definitions.

    Args:
        state: answers state terms (`status:stale`, `modified`...) from the metadata store;
            without it such a term is an error.

    Raises:
        SelectionError: a term is malformed or matches nothing, or nothing is left after
            `exclude`.
        NothingSelectedError: only state terms were given and they match nothing now.
    """
    terms = split_terms(expressions)
    if not terms:
        raise SelectionError("no selection given", hint="Select assets, e.g. `'*'` or `+name`.")
    reasons: dict[str, str] = {}
    for term in terms:
        for name, reason in _evaluate(term, definitions, state).items():
            if reasons.get(name) != "selected":
                reasons[name] = reason if name not in reasons or reason == "selected" \
                    else reasons[name]
    for term in split_terms(exclude):
        for name in _evaluate(term, definitions, state):
            reasons.pop(name, None)
    if not reasons:
        if uses_state(terms):
            raise NothingSelectedError(f"nothing to do: `{' '.join(terms)}` selects no asset "
                                       "now", hint="State selections (status:..., modified) "
                                                   "follow the metadata store.")
        raise SelectionError("the selection is empty after --exclude",
                             hint="Exclude less, or select more.")
    order = tuple(n for n in definitions.order if n in reasons)
    return Selection(assets=order, reasons={n: reasons[n] for n in order})
