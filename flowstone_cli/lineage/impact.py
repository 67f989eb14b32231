"""Impact analysis: if one asset partition changed now, which downstream partitions go stale.

The answer follows the definitions through every partition mapping, transitively, because that
is what the next `materialize` will consider: a changed partition makes every current
materialization that reads it (directly or through others) stale. Partitions that were never
materialized are counted apart: they are stale already. Each impacted entry also says whether
the lineage table records its current materialization as having read the changed partition.
"""

from __future__ import annotations

from collections import Counter

from flowstone_cli.lineage.entries import ImpactAnswer, LineageEntry, ordered
from flowstone_cli.lineage.graph import Reach
from flowstone_cli.lineage.recorded import LineageIndex, consumers_walk, head_of
from flowstone_cli.planning.plan import StepKey


def impact(index: LineageIndex, start: StepKey, reach: Reach) -> ImpactAnswer:
    """What becomes stale if `start` changes now.

    Args:
        index: where materializations and lineage are loaded from.
        start: the partition that would change.
        reach: `predicted_downstream` of `start` (no depth limit).
    """
    index.load([start, *reach.depth])
    sources = [r.step_id for r in index.by_key.get(start, ())]
    # Only partitions the definitions reach can go stale, and all of them are loaded, so the
    # store need not be searched for consumers elsewhere.
    reached, _ = consumers_walk(index, sources, max_depth=None, complete=False)
    impacted: list[LineageEntry] = []
    missing: Counter[str] = Counter()
    for key, depth in reach.depth.items():
        current = index.current(key)
        if current is None:
            missing[key.asset] += 1
            continue
        impacted.append(LineageEntry(key, depth, current.step_id in reached, current,
                                     tuple(reach.via[key])))
    head = head_of(index, start)
    return ImpactAnswer(start, index.materialization(head) if head else None, ordered(impacted),
                        dict(sorted(missing.items())))
