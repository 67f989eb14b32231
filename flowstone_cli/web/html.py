"""Building HTML safely: every value is escaped unless it is already `Html` built here.

Pages are plain server-rendered HTML; `app.js` adds pan/zoom, search and live updates.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import datetime
from html import escape
from typing import Any
from urllib.parse import quote, urlencode

NAV = (("/", "Graph"), ("/runs", "Runs"), ("/backfills", "Backfills"),
       ("/approvals", "Approvals"))


class Html(str):
    """Markup built by this package; inserted as is."""


def esc(value: Any) -> Html:
    """`value` as escaped text (None as an empty string)."""
    if isinstance(value, Html):
        return value
    return Html(escape("" if value is None else str(value), quote=True))


def join(parts: Iterable[Any], sep: str = "") -> Html:
    """Escape and concatenate."""
    return Html(sep.join(esc(p) for p in parts))


def tag(name: str, content: Any = "", **attrs: Any) -> Html:
    """`<name attrs>content</name>`; `class_` stands for `class`, `data_x` for `data-x`."""
    rendered = "".join(
        f' {k.rstrip("_").replace("_", "-")}="{esc(v)}"' for k, v in attrs.items()
        if v is not None and v is not False)
    return Html(f"<{name}{rendered}>{esc(content)}</{name}>")


def link(href: str, text: Any, **attrs: Any) -> Html:
    """An `<a>`."""
    return tag("a", text, href=href, **attrs)


def url(path: str, *segments: str, **query: Any) -> str:
    """`path/segment...?query` with each part quoted."""
    full = path + "".join("/" + quote(s, safe="") for s in segments)
    pairs = {k: v for k, v in query.items() if v not in (None, "")}
    return full + ("?" + urlencode(pairs) if pairs else "")


def when(value: datetime | None) -> str:
    """A time as `YYYY-MM-DD HH:MM:SS` UTC."""
    return value.strftime("%Y-%m-%d %H:%M:%S") if value is not None else "-"


def duration(start: datetime | None, end: datetime | None) -> str:
    """A duration like `1.2 s` or `3m 04s`."""
    if start is None or end is None:
        return "-"
    seconds = (end - start).total_seconds()
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, rest = divmod(int(seconds), 60)
    return f"{minutes}m {rest:02d}s"


def status_badge(status: str) -> Html:
    """A coloured status label."""
    return tag("span", status, class_=f"badge s-{status}", data_status=status)


def table(headers: Sequence[str], rows: Iterable[Sequence[Any]], *, class_: str = "grid",
          empty: str = "Nothing yet.") -> Html:
    """A table; cells are escaped unless they are `Html`."""
    body = [Html("<tr>" + "".join(f"<td>{esc(c)}</td>" for c in row) + "</tr>") for row in rows]
    if not body:
        return tag("p", empty, class_="empty")
    head = "".join(f"<th>{esc(h)}</th>" for h in headers)
    return Html(f'<table class="{esc(class_)}"><thead><tr>{head}</tr></thead>'
                f'<tbody>{"".join(body)}</tbody></table>')


def pre(value: Any) -> Html:
    """Preformatted text (JSON for dicts and lists)."""
    text = json.dumps(value, indent=2, default=str, sort_keys=True) \
        if isinstance(value, dict | list) else value
    return tag("pre", text)


def page(title: str, main: Html, *, project: str, active: str, token: str | None,
         read_only: bool, version: int, flash: str | None = None) -> Html:
    """A whole page: navigation, `<main>` (what live updates replace) and the scripts."""
    nav = "".join(tag("a", label, href=href, class_="on" if href == active else None)
                  for href, label in NAV)
    mode = '<span class="ro">read-only</span>' if read_only else ""
    token_meta = f'<meta name="flowstone-token" content="{esc(token)}">' if token else ""
    message = tag("div", flash, class_="flash", role="status") if flash else ""
    return Html(
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<title>{esc(title)} · FlowStone</title>{token_meta}'
        '<link rel="stylesheet" href="/static/app.css"></head><body>'
        f'<header><strong>FlowStone</strong> <span class="project">{esc(project)}</span>'
        f'<nav>{nav}</nav>{mode}<span id="live" class="live" title="live updates">●</span>'
        '</header>'
        f'{message}<main id="main" data-version="{version}">{main}</main>'
        '<script src="/static/app.js"></script></body></html>')
