"""Running a group of dbt assets with ONE `dbt build` inside the worker process.

`DbtBatchRunner.run` calls dbt's programmatic `dbtRunner` with `build --select m1 m2 ...` for
every member of the batch, collects dbt's log lines through a callback (each line goes with the
model it is about), and turns `res.result.results` into one outcome per model: dbt's status,
timing, adapter response (rows affected), the compiled SQL's hash, and the tests run on it. A
failing or erroring test fails the model it tests. After the build, dbt's adapter connections
are released so that other processes can open the warehouse (dbt-duckdb otherwise keeps its
database file locked for the life of the process).
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import timezone
from typing import Any

from flowstone_cli.definitions.batch import BatchMember, MemberOutcome
from flowstone_cli.definitions.context import StepLog
from flowstone_cli.errors import DbtError
from flowstone_cli.integrations.dbt_manifest import DbtLocation, dbt_environment

_FAILED_TESTS = {"fail", "error"}
_LEVELS = {"info": "info", "warn": "warning", "error": "error"}


def partition_vars(member: BatchMember) -> dict[str, Any]:
    """The `--vars` a partitioned dbt build receives: `partition`, and for time partitions
    `partition_start`/`partition_end` (ISO), and for multi partitions `partition_keys`."""
    if member.partition is None:
        return {}
    values: dict[str, Any] = {"partition": member.partition}
    if member.partition_window is not None:
        values["partition_start"], values["partition_end"] = member.partition_window
    if member.partition_keys:
        values["partition_keys"] = dict(member.partition_keys)
    return values


def _epoch(value: Any, default: float) -> float:
    if value is None:
        return default
    # dbt's timing datetimes are naive UTC.
    return value.replace(tzinfo=timezone.utc).timestamp() if value.tzinfo is None \
        else value.timestamp()


def _release_connections() -> None:
    from dbt.adapters.factory import reset_adapters

    duckdb_connections = sys.modules.get("dbt.adapters.duckdb.connections")
    if duckdb_connections is not None:
        manager = duckdb_connections.DuckDBConnectionManager
        environment = getattr(manager, "_ENV", None)
        if environment is not None:
            environment.close()
        manager.close_all_connections()
    reset_adapters()


@contextmanager
def build_lock(location: DbtLocation, log: StepLog) -> Iterator[None]:
    """One dbt build of a project at a time on this machine: builds share the project's
    target/ folder, and dbt-duckdb holds its warehouse file for a whole build. The kernel
    releases the lock when a killed worker dies."""
    location.target_dir.mkdir(parents=True, exist_ok=True)
    with open(location.target_dir / ".flowstone_build.lock", "a+b") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            log.info("waiting for another dbt build of this project to finish")
            fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


class DbtBatchRunner:
    """Runs dbt assets of one dbt project in groups (see `flowstone_cli.definitions.batch`).

    Args:
        location: the dbt project, profiles and target.
        unique_ids: asset name -> dbt unique id.
        names: dbt unique id -> dbt node name (what `--select` gets).
        tests: dbt test unique id -> the node it tests (its log lines go with that node).
    """

    def __init__(self, location: DbtLocation, unique_ids: Mapping[str, str],
                 names: Mapping[str, str], tests: Mapping[str, str]) -> None:
        self.location = location
        self.unique_ids = dict(unique_ids)
        self.names = dict(names)
        self.tests = dict(tests)
        self.key = f"dbt:{location.project_dir}"

    def command(self, members: Sequence[BatchMember]) -> list[str]:
        """The dbt arguments for one build of `members`."""
        selectors = [self.names[self.unique_ids[m.asset]] for m in members]
        args = ["build", "--quiet", "--no-use-colors", "--select", *selectors,
                *self.location.dbt_args()]
        values = partition_vars(members[0])
        return args + (["--vars", json.dumps(values)] if values else [])

    def run(self, members: Sequence[BatchMember], log: StepLog) -> list[MemberOutcome]:
        """One `dbt build` for every member; one outcome per member."""
        os.environ.update(dbt_environment(self.location))
        from dbt.cli.main import dbtRunner
        from dbt_common.invocation import get_invocation_id

        by_id = {self.unique_ids[m.asset]: m for m in members}
        lines: dict[str, list[tuple[float, str, str]]] = {uid: [] for uid in by_id}
        tested = {test: node for test, node in self.tests.items() if node in by_id}

        def on_event(event: Any) -> None:
            level = _LEVELS.get(event.info.level)
            message = event.info.msg
            if level is None or not message or not message.strip():
                return
            node = getattr(getattr(event, "data", None), "node_info", None)
            uid = getattr(node, "unique_id", "") or ""
            owner = uid if uid in lines else tested.get(uid)
            if owner is not None:
                lines[owner].append((time.time(), level, message))
            else:
                getattr(log, level)(message)

        args = self.command(members)
        with build_lock(self.location, log):
            log.info("dbt " + " ".join(args))
            started = time.time()
            try:
                result = dbtRunner(callbacks=[on_event]).invoke(args)
            finally:
                _release_connections()
            ended = time.time()
        invocation = get_invocation_id()
        log.info(f"dbt invocation {invocation} finished in {ended - started:.1f}s")
        run_results = getattr(result.result, "results", None)
        if run_results is None:
            raise DbtError(f"dbt build did not run: {result.exception}",
                           hint="Run the same `dbt build` in the dbt project to see details.")
        models: dict[str, Any] = {}
        tests: dict[str, list[Any]] = {uid: [] for uid in by_id}
        for item in run_results:
            node = item.node
            if node.unique_id in by_id:
                models[node.unique_id] = item
                continue
            if node.resource_type == "test":
                owner = tested.get(node.unique_id) or getattr(node, "attached_node", None)
                if owner not in by_id:
                    owner = next((n for n in node.depends_on.nodes if n in by_id), None)
                if owner is not None:
                    tests[owner].append(item)
        return [self._outcome(member, models.get(uid), tests[uid], lines[uid], invocation,
                              started, ended) for uid, member in by_id.items()]

    def _outcome(self, member: BatchMember, item: Any, tests: list[Any],
                 lines: list[tuple[float, str, str]], invocation: str, started: float,
                 ended: float) -> MemberOutcome:
        name = self.names[self.unique_ids[member.asset]]
        if item is None:
            return MemberOutcome(step_id=member.step_id, status="failed", started_at=started,
                                 ended_at=ended, logs=tuple(lines), error_code="dbt_not_run",
                                 error_message=f"dbt build reported no result for `{name}`",
                                 metadata={"dbt_invocation_id": invocation})
        status = str(getattr(item.status, "value", item.status))
        times = [(t.started_at, t.completed_at) for t in item.timing or []]
        begin = min((_epoch(s, started) for s, _ in times), default=started)
        end = max((_epoch(e, ended) for _, e in times), default=ended)
        response = dict(item.adapter_response or {})
        rows = response.get("rows_affected")
        compiled = getattr(item.node, "compiled_code", None)
        test_status = {t.node.name: str(getattr(t.status, "value", t.status)) for t in tests}
        metadata = {"dbt_unique_id": item.node.unique_id, "dbt_status": status,
                    "dbt_invocation_id": invocation, "relation": item.node.relation_name,
                    "execution_time_s": round(item.execution_time or 0.0, 3),
                    "adapter_response": response, "dbt_tests": test_status}
        if compiled:
            metadata["compiled_sql_sha256"] = hashlib.sha256(compiled.encode()).hexdigest()
        base = {"step_id": member.step_id, "started_at": begin, "ended_at": end,
                "metadata": metadata, "logs": tuple(lines),
                "uri": f"dbt://{item.node.relation_name}" if item.node.relation_name else None,
                "rows": rows if isinstance(rows, int) and rows >= 0 else None}
        if status == "skipped":
            return MemberOutcome(status="skipped", error_message=f"dbt skipped `{name}`: "
                                 f"{item.message or 'an upstream node failed'}", **base)
        if status == "error":
            return MemberOutcome(status="failed", error_code="dbt_model_failed",
                                 error_message=f"dbt model `{name}` failed: {item.message}",
                                 hint="Fix the SQL; the compiled SQL is under the dbt "
                                      "project's target/ folder.", **base)
        failed = [t for t in tests if str(getattr(t.status, "value", t.status)) in _FAILED_TESTS]
        if failed:
            detail = "; ".join(f"{t.node.name}: {t.message}" for t in failed)
            return MemberOutcome(status="failed", error_code="dbt_test_failed",
                                 error_message=f"dbt test failed on `{name}`: {detail}",
                                 hint="Fix the data or the test; downstream assets were "
                                      "skipped.", **base)
        return MemberOutcome(status="succeeded", **base)
