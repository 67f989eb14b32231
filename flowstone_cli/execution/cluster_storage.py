"""Can workers of a cluster reach the values a run stores? Checked before anything runs.

Workers on another machine cannot read a value another worker wrote to its own local disk, nor
one held in a process's memory. A cluster whose scheduler address is this machine (a local
cluster, or `dask scheduler` on 127.0.0.1) shares the disk, so local storage is fine there.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable
from urllib.parse import urlsplit

from flowstone_cli.errors import ClusterStorageError
from flowstone_cli.io.registry import BUILTIN_IO_MANAGERS
from flowstone_cli.project.loader import Project, is_remote


def address_host(address: str) -> str:
    """The host part of a scheduler address such as `tcp://10.0.0.5:8786`."""
    parsed = urlsplit(address if "://" in address else f"tcp://{address}")
    return parsed.hostname or ""


def is_local_address(address: str | None) -> bool:
    """True when the scheduler runs on this machine (None: a cluster we start here)."""
    if address is None:
        return True
    host = address_host(address)
    if not host or host == "localhost":
        return True
    try:
        resolved = {info[4][0] for info in socket.getaddrinfo(host, None)}
    except OSError:
        return False
    mine = {"127.0.0.1", "::1"}
    for name in {socket.gethostname(), socket.getfqdn()}:
        try:
            mine.update(info[4][0] for info in socket.getaddrinfo(name, None))
        except OSError:
            continue
    return all(ipaddress.ip_address(ip.split("%")[0]).is_loopback or ip in mine
               for ip in resolved)


def _memory_managers(project: Project) -> set[str]:
    return {"memory"} | {name for name, section in project.config.io_managers.items()
                         if section.type == "memory"}


def _local_root(project: Project, manager: str) -> str | None:
    """The local folder or file a manager writes to, or None when it is remote."""
    section = project.config.io_managers.get(manager)
    if section is None or section.root is None:
        return None if is_remote(project.storage_root) else project.storage_root
    return None if is_remote(section.root) else section.root


def check_cluster_storage(project: Project, assets: Iterable[str], address: str | None) -> None:
    """Refuse a run whose values workers could not share.

    Raises:
        ClusterStorageError: an asset of the run (or an input it loads) uses the `memory` I/O
            manager, or local disk while the cluster is on another machine.
    """
    definitions = project.definitions
    involved = set(assets)
    for name in list(involved):
        involved.update(definitions.assets[name].upstream)
    managers = {definitions.assets[name].io_manager: name for name in sorted(involved)}
    memory = sorted(m for m in managers if m in _memory_managers(project))
    if memory:
        raise ClusterStorageError(
            f"asset `{managers[memory[0]]}` uses the in-memory I/O manager `{memory[0]}`, which "
            "Dask workers cannot share",
            hint="Use a file-based I/O manager (pickle, parquet...) on shared storage.")
    if is_local_address(address):
        return
    for manager, asset in sorted(managers.items()):
        if manager not in BUILTIN_IO_MANAGERS and manager not in project.config.io_managers:
            continue
        local = _local_root(project, manager)
        if local is not None:
            raise ClusterStorageError(
                f"asset `{asset}` stores its values with I/O manager `{manager}` on this "
                f"machine's disk ({local}), which workers of the Dask cluster at {address} "
                "cannot read",
                hint="Put [storage] root (or the I/O manager's root) on an object store such "
                     "as s3://bucket/prefix (see docs/scaling.md), or run without "
                     "--dask-address to use a cluster on this machine.")
