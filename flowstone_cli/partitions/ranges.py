"""Partition ranges as users write them on the command line: `START..END`, both ends included."""

from __future__ import annotations

from flowstone_cli.errors import PartitionError
from flowstone_cli.partitions.definitions import show_key

RANGE_SEPARATOR = ".."


def parse_partition_range(text: str) -> tuple[str, str]:
    """Split `2025-01-01..2025-01-31` into its two keys (both included).

    The keys are not validated here: pass them to the asset's definition, e.g.
    `definition.key_range(*parse_partition_range(text))`, which also checks their order.

    Raises:
        PartitionError: when `text` does not hold exactly one `..` with a key on each side
            (static keys may contain `..` themselves, e.g. `a..b`; such ranges are ambiguous).
    """
    if not isinstance(text, str) or text.count(RANGE_SEPARATOR) != 1:
        raise PartitionError(f"partition range {show_key(text)} is not START..END",
                             hint="Write the first and last key joined by `..`, e.g. "
                                  "2025-01-01..2025-01-31.")
    start, _, end = text.partition(RANGE_SEPARATOR)
    start, end = start.strip(), end.strip()
    if not start or not end:
        raise PartitionError(f"partition range {show_key(text)} lacks a start or an end",
                             hint="Write both keys, e.g. 2025-01-01..2025-01-31.")
    return start, end
