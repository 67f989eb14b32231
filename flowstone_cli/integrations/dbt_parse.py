"""Child process entry point: `dbt parse` (and `dbt ls` for a selection), then write the cache.

Run as `python -m flowstone_cli.integrations.dbt_parse HASH JSON` by `dbt_manifest.load_nodes`,
in the dbt project's folder. Exit code 0 when the cache was written; otherwise dbt's error is on
stderr.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

from flowstone_cli.integrations.dbt_manifest import ASSET_TYPES, extract


def _selected(runner: Any, dbt_args: list[str], select: str | None,
              exclude: str | None) -> list[str] | None:
    if not select and not exclude:
        return None
    args = ["ls", "--quiet", "--output", "json", "--output-keys", "unique_id", *dbt_args]
    for kind in ASSET_TYPES:
        args += ["--resource-type", kind]
    if select:
        args += ["--select", *select.split()]
    if exclude:
        args += ["--exclude", *exclude.split()]
    result = runner.invoke(args)
    if not result.success:
        raise SystemExit(f"dbt ls failed: {result.exception}")
    return [json.loads(line)["unique_id"] for line in result.result or []]


def main(argv: list[str]) -> int:
    """Parse, select, and write the node cache atomically."""
    wanted, raw = argv[0], json.loads(argv[1])
    from dbt.cli.main import dbtRunner

    runner = dbtRunner()
    dbt_args: list[str] = raw["dbt_args"]
    result = runner.invoke(["parse", "--quiet", *dbt_args])
    if not result.success:
        print(f"dbt parse failed: {result.exception}", file=sys.stderr)
        return 1
    manifest = result.result.writable_manifest().to_dict()
    selected = _selected(runner, dbt_args, raw.get("select"), raw.get("exclude"))
    content = {"hash": wanted, **extract(manifest, selected)}
    cache = Path(raw["cache"])
    temporary = cache.with_name(f".{cache.name}.{os.getpid()}.tmp")
    temporary.write_text(json.dumps(content), encoding="utf-8")
    os.replace(temporary, cache)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
