"""Selections with their state terms (`status:stale`, `modified`...) answered from the store."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timezone

from flowstone_cli.lineage.state_selection import state_lookup
from flowstone_cli.metadata.store import MetadataStore
from flowstone_cli.planning.selection import Selection, StateLookup, select, uses_state
from flowstone_cli.project.loader import Project


def store_state(project: Project, store: MetadataStore) -> StateLookup:
    """A state lookup that reads the store in one short session per term, on first use."""
    cache: dict[str, set[str]] = {}
    now = datetime.now(timezone.utc)

    def lookup(term: str) -> set[str]:
        if term not in cache:
            if not store.exists():
                cache[term] = state_lookup(project.definitions, None, now=now)(term)
            else:
                with store.reader() as reader:
                    cache[term] = state_lookup(project.definitions, reader, now=now)(term)
        return cache[term]

    return lookup


def select_from(project: Project, store: MetadataStore, selection: Sequence[str],
                exclude: Sequence[str] = ()) -> Selection:
    """`select` with state terms answered from `store` (the store is read only when a state
    term is used)."""
    wants_state = uses_state([*selection, *exclude])
    return select(project.definitions, selection, exclude,
                  state=store_state(project, store) if wants_state else None)


def everything(project: Project) -> StateLookup:
    """A lookup for validation: every state term may select any asset."""
    names = set(project.definitions.assets)
    return lambda term: names
