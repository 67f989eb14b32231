"""dbt models as FlowStone assets: `dbt_assets(...)` in an asset module.

```python
from flowstone_cli.integrations.dbt import dbt_assets

shop = dbt_assets(project_dir="../dbt_project")
```

Every model, seed and snapshot of the project (or of `select=`) becomes an asset named like the
dbt node and grouped by its dbt `group` or folder. Dependencies between dbt nodes come from the
manifest's `depends_on.nodes`; a dbt source becomes a dependency on a FlowStone asset when it is
mapped explicitly (`source_assets={"raw.orders": "raw_orders"}`), through the source's
`meta: {flowstone: {asset: NAME}}`, or when the source table is named like a FlowStone asset.
The code version of each asset is dbt's checksum of its SQL (or seed file), so editing a model
makes it and everything downstream stale. Materializing a selection runs ONE `dbt build` for all
selected dbt assets of a run (per partition), in one worker process.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from importlib import metadata
from pathlib import Path
from types import MappingProxyType
from typing import Any

from flowstone_cli.definitions.batch import AssetCollection, BatchAssetSpec
from flowstone_cli.errors import DefinitionError, MissingExtraError, Problem
from flowstone_cli.integrations.dbt_manifest import DbtLocation, DbtNodes, load_nodes
from flowstone_cli.integrations.dbt_runner import DbtBatchRunner

__all__ = ["dbt_assets"]


def _require_dbt() -> None:
    # Asks the installed distributions, without importing dbt (which costs seconds).
    try:
        metadata.version("dbt-core")
    except metadata.PackageNotFoundError:
        raise MissingExtraError.for_extra("dbt", "dbt_assets()") from None


def _caller_dir() -> Path:
    # Two frames up: the asset module that called dbt_assets().
    return Path(sys._getframe(2).f_code.co_filename).resolve().parent


def _group(node: Mapping[str, Any]) -> str:
    if node.get("group"):
        return str(node["group"])
    fqn = node.get("fqn") or []
    return str(fqn[1]) if len(fqn) > 2 else str(node.get("package_name") or "dbt")


def _source_asset(source_id: str, nodes: DbtNodes, explicit: Mapping[str, str]
                  ) -> tuple[str | None, str | None]:
    """(certain asset, asset if it exists) for one dbt source."""
    source = nodes.sources.get(source_id)
    if source is None:
        return None, None
    dotted = f"{source['source_name']}.{source['name']}"
    if dotted in explicit:
        return explicit[dotted], None
    flowstone = (source.get("meta") or {}).get("flowstone") or {}
    if isinstance(flowstone, Mapping) and flowstone.get("asset"):
        return str(flowstone["asset"]), None
    return None, str(source["name"])


def dbt_assets(project_dir: str | Path, profiles_dir: str | Path | None = None, *,
               select: str | None = None, exclude: str | None = None,
               target: str | None = None, source_assets: Mapping[str, str] | None = None,
               partitions: Any = None, group: str | None = None,
               timeout: str | None = None) -> AssetCollection:
    """Turn a dbt project's models, seeds and snapshots into FlowStone assets.

    Args:
        project_dir: the folder holding `dbt_project.yml`; relative paths are relative to the
            calling module's folder.
        profiles_dir: the folder holding `profiles.yml` (default: `project_dir`).
        select: dbt selection syntax limiting which nodes become assets (`"tag:daily"`).
        exclude: dbt exclusion syntax.
        target: the profile target (default: the profile's).
        source_assets: `"source_name.table" -> FlowStone asset` for sources whose names differ.
        partitions: a partitions definition for every asset of the project; each partition's
            build gets `--vars '{"partition": KEY, ...}'`.
        group: one group for every asset instead of the dbt group or folder.
        timeout: a duration after which a build of these assets is stopped.

    Raises:
        MissingExtraError: the `dbt` extra is not installed.
        DbtError: `dbt parse` failed.
    """
    _require_dbt()
    base = _caller_dir()
    project = (base / project_dir).resolve()
    profiles = (base / profiles_dir).resolve() if profiles_dir is not None else project
    if not (project / "dbt_project.yml").is_file():
        raise DefinitionError([Problem("dbt_project_missing", f"no dbt_project.yml in {project}",
                                       str(project), "Pass project_dir= the dbt project's "
                                                     "folder (relative to this module).")])
    location = DbtLocation(project, profiles, target, select, exclude)
    nodes = load_nodes(location)
    explicit = dict(source_assets or {})
    by_id = {node["unique_id"]: node for node in nodes.nodes}
    runner = DbtBatchRunner(location, {n["name"]: uid for uid, n in by_id.items()},
                            {uid: n["name"] for uid, n in by_id.items()}, nodes.tests)
    specs: list[BatchAssetSpec] = []
    for unique_id, node in by_id.items():
        deps: list[str] = []
        optional: list[str] = []
        for upstream in node["depends_on"]:
            if upstream in by_id:
                deps.append(by_id[upstream]["name"])
            elif upstream.startswith("source."):
                certain, maybe = _source_asset(upstream, nodes, explicit)
                deps.extend([certain] if certain else [])
                optional.extend([maybe] if maybe else [])
        tags = {"dbt": node["resource_type"], **{str(t): "true" for t in node["tags"]}}
        specs.append(BatchAssetSpec(
            name=node["name"], deps=tuple(dict.fromkeys(deps)), partitions=partitions,
            description=node["description"] or f"dbt {node['resource_type']} {unique_id}",
            group=group or _group(node), tags=MappingProxyType(tags),
            explicit_code_version=node["checksum"][:16] or None, timeout=timeout,
            file=str(project / node["path"]) if node["path"] else str(project), line=1,
            runner=runner, optional_deps=tuple(dict.fromkeys(optional)),
            kind_label=f"dbt {node['resource_type']}"))
    return AssetCollection(tuple(specs))
