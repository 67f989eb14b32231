"""Setting up the Dask executor for a run: checks first, then the cluster, then the code."""

from __future__ import annotations

from collections.abc import Sequence

from flowstone_cli.errors import MissingExtraError
from flowstone_cli.execution.cluster_storage import check_cluster_storage
from flowstone_cli.execution.code_bundle import bundle_project
from flowstone_cli.execution.executors.base import Executor
from flowstone_cli.project.loader import Project

DASK_EXTRA_HINT = "Install it with: pip install 'flowstone-cli[dask]'"


def dask_executor(project: Project, assets: Sequence[str], *, address: str | None,
                  workers: int) -> Executor:
    """A Dask executor for `assets`: on the scheduler at `address`, else on a local cluster
    of `workers` processes started for this run.

    Raises:
        MissingExtraError: dask/distributed are not installed (exit 2).
        ClusterStorageError: values would live where the cluster's workers cannot reach them
            (checked before the cluster is contacted; exit 2).
    """
    try:
        from flowstone_cli.execution.executors.dask import DaskExecutor, start_client
        from flowstone_cli.execution.executors.dask_worker import WorkerJob
    except ImportError as exc:
        raise MissingExtraError(f"the Dask executor needs the `dask` extra ({exc.msg})",
                                hint=DASK_EXTRA_HINT) from None
    address = address or None
    check_cluster_storage(project, assets, address)
    bundle = bundle_project(project)
    client, cluster = start_client(address, workers)
    try:
        job = WorkerJob(bundle=bundle.name, origin_root=str(project.root), assets=tuple(assets))
        where = address or client.scheduler.address
        return DaskExecutor(client, cluster, bundle, job, address=where)
    except BaseException:
        client.close()
        if cluster is not None:
            cluster.close()
        raise
