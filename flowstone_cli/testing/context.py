"""`build_context`: an `AssetContext` for calling an asset function directly in a test."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flowstone_cli.definitions.asset import AssetSpec
from flowstone_cli.definitions.context import AssetContext, Resources, StepLog
from flowstone_cli.errors import PartitionError
from flowstone_cli.execution.runtime import partition_info


def build_context(asset: AssetSpec | str = "test_asset", *, partition: str | None = None,
                  resources: Mapping[str, Any] | None = None, run_id: str = "test-run",
                  tags: Mapping[str, str] | None = None, attempt: int = 1) -> AssetContext:
    """The context an asset function receives, for calling it directly.

    Given the asset itself (the object `@asset` made), the partition is validated against its
    partitions definition and `partition_window` / `partition_keys` are filled in as in a run.

    Args:
        asset: the asset (or just a name).
        partition: the partition key, for partitioned assets.
        resources: name -> object, available as `context.resources.NAME` (fakes welcome).
        run_id: the run id the context reports.
        tags: the run's tags.
        attempt: the attempt number.

    Raises:
        PartitionError: the key is not a partition of the asset, or a partitioned asset was
            given no partition.
    """
    spec = asset if isinstance(asset, AssetSpec) else None
    name = spec.name if spec is not None else str(asset)
    window, keys = None, {}
    if spec is not None and spec.partitions is not None:
        if partition is None:
            raise PartitionError(f"asset `{name}` is partitioned; give build_context a "
                                 "partition=", hint=f"e.g. partition="
                                 f"{next(iter(_first_key(spec)), 'KEY')!r}")
        validate = getattr(spec.partitions, "validate_key", None)
        if validate is not None:
            validate(partition)
        info = partition_info(spec, partition)
        window, keys = info.window, dict(info.keys or {})
    return AssetContext(asset=name, partition=partition, partition_window=window,
                        partition_keys=keys, run_id=run_id, step_id="test-step",
                        attempt=attempt, resources=Resources(dict(resources or {})),
                        log=StepLog(), tags=dict(tags or {}),
                        code_version=spec.code_version if spec is not None else "")


def _first_key(spec: AssetSpec) -> list[str]:
    try:
        keys = spec.partitions.keys()  # type: ignore[union-attr]
        return [keys[0]] if keys else []
    except Exception:  # noqa: BLE001 - only for a hint
        return []
