"""The step runner: what a worker does for one attempt of one step.

Build the context, set up the resources the asset requires (once per process), load the inputs
through the upstream assets' I/O managers, call the user's function inside an error boundary,
store the value, and return a plain `StepResult`. Workers never open the metadata file.
"""

from __future__ import annotations

import inspect
import json
import os
import socket
import sys
import time
import traceback
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from flowstone_cli.definitions.asset import AssetSpec
from flowstone_cli.definitions.checkpoint import CheckpointSpec
from flowstone_cli.definitions.checks import AssetCheckSpec
from flowstone_cli.definitions.context import AssetContext, Resources, StepLog, clip
from flowstone_cli.definitions.output import Output
from flowstone_cli.errors import FlowStoneError, ResourceError, TenantIsolationError
from flowstone_cli.execution.check_runner import run_checks
from flowstone_cli.errors import StepError as StepFailure
from flowstone_cli.execution.stdout_capture import stdout_to_log
from flowstone_cli.execution.tasks import ResultStatus, StepError, StepResult, StepTask
from flowstone_cli.definitions.run_config import CONFIG_HASH_KEY, config_hash
from flowstone_cli.execution.usage import usage_metadata
from flowstone_cli.io.base import IOManager, StoreContext
from flowstone_cli.resources.base import ResourceSet
from flowstone_cli.resources.rate_limiter import NamedLimits
from flowstone_cli.review.merge_patch import canonical_hash, json_like, merge_patch
from flowstone_cli.review.preview import preview

_HOST = socket.gethostname()
MAX_MESSAGE_CHARS = 2000
"""An error message longer than this is cut (a 50 MB message is stored and shown cut)."""
MAX_TRACEBACK_CHARS = 20000


@dataclass(frozen=True)
class PartitionInfo:
    """What a step needs to know about a partition key: its path, window and dimensions."""

    path: str | None = None
    window: tuple[Any, Any] | None = None
    keys: Mapping[str, str] | None = None


def partition_info(spec: AssetSpec, key: str | None) -> PartitionInfo:
    """Storage path, time window and dimension keys for `key` of `spec`'s partitions."""
    definition = spec.partitions
    if key is None or definition is None:
        return PartitionInfo()
    window = definition.window(key) if hasattr(definition, "window") else None
    keys = definition.key_dict(key) if hasattr(definition, "key_dict") else None
    time_dimension = getattr(definition, "time_dimension", None)
    if window is None and keys and time_dimension:
        window = definition.dimension(time_dimension).window(keys[time_dimension])
    return PartitionInfo(path=definition.path_for(key), window=window, keys=keys)


def _qualified(exc: BaseException) -> str:
    cls = type(exc)
    return cls.__qualname__ if cls.__module__ == "builtins" else f"{cls.__module__}.{cls.__qualname__}"


def _user_traceback(exc: BaseException) -> str:
    # Drop FlowStone's own frames above the user's function: people want to see their code.
    frames = traceback.extract_tb(exc.__traceback__)
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    kept = [f for f in frames if not f.filename.startswith(here)] or frames
    lines = ["Traceback (most recent call last):\n", *traceback.format_list(kept),
             *traceback.format_exception_only(type(exc), exc)]
    return "".join(lines)


class StepRuntime:
    """Everything a process needs to run steps of one project.

    Args:
        assets: asset name -> spec.
        io_managers: I/O manager name -> instance.
        resources: this process's resources (set up lazily).
        checks: asset name -> its checks, run right after the value is stored.
    """

    def __init__(self, assets: Mapping[str, AssetSpec], io_managers: Mapping[str, IOManager],
                 resources: ResourceSet, *, tenant_dimension: str | None = None,
                 checks: Mapping[str, tuple[AssetCheckSpec, ...]] | None = None,
                 limits: NamedLimits | None = None) -> None:
        self.assets = assets
        self.io_managers = io_managers
        self.resources = resources
        self.tenant_dimension = tenant_dimension
        self.checks = checks or {}
        self.limits = limits

    def manager_for(self, asset: str) -> IOManager:
        """The I/O manager that stores `asset`."""
        return self.io_managers[self.assets[asset].io_manager]

    def store_context(self, asset: str, partition: str | None, run_id: str | None) -> StoreContext:
        """The I/O manager context of one asset partition."""
        info = partition_info(self.assets[asset], partition)
        return StoreContext(asset=asset, partition=partition, partition_path=info.path,
                            run_id=run_id)

    def run(self, task: StepTask) -> StepResult:
        """Run one attempt; never raises (except for a KeyboardInterrupt the coordinator sent).

        What the step writes to stdout (fd 1, subprocesses too) goes to its log.
        """
        if task.batch:
            # Imported here: batch_runtime builds on this module (partition_info).
            from flowstone_cli.execution.batch_runtime import run_batch
            return run_batch(self, task)
        log = StepLog()
        with stdout_to_log(log):
            result = self._run(task, log)
        return replace(result, logs=_logs(log))

    def _run(self, task: StepTask, log: StepLog) -> StepResult:
        started = time.time()
        spec = self.assets[task.asset]
        base = {"step_id": task.step_id, "started_at": started, "pid": os.getpid(),
                "host": _HOST, "code_version": spec.code_version}
        try:
            if isinstance(spec, CheckpointSpec):
                review = self._review(spec, task, log)
                if isinstance(review, dict):
                    return StepResult(status=ResultStatus.WAITING_APPROVAL, ended_at=time.time(),
                                      metadata=review, logs=_logs(log), **base)
                value, metadata = review
            else:
                value, metadata = self._compute(spec, task, log)
            manager = self.io_managers[spec.io_manager]
            # The coordinator fsyncs touched directories before recording (group commit).
            context = replace(self.store_context(task.asset, task.partition, task.run_id),
                              sync_directory=False)
            stored = manager.store(context, value)
            checks = run_checks(self.checks.get(spec.name, ()), value,
                                lambda: self._context(spec, task, log))
        except BaseException as exc:  # noqa: BLE001 - the user-code error boundary
            usage = usage_metadata(self.resources, self.limits, spec.requires)
            return StepResult(status=ResultStatus.FAILED, ended_at=time.time(),
                              logs=_logs(log), error=self._describe(spec, exc),
                              metadata=_json_safe(usage), **base)
        metadata.update(usage_metadata(self.resources, self.limits, spec.requires))
        if task.config is not None:
            metadata[CONFIG_HASH_KEY] = config_hash(task.config)
        return StepResult(status=ResultStatus.SUCCEEDED, ended_at=time.time(), uri=stored.uri,
                          io_manager=spec.io_manager, size_bytes=stored.size_bytes,
                          rows=stored.rows, data_version=stored.data_version,
                          metadata=_json_safe(metadata), logs=_logs(log), checks=checks,
                          **base)

    def _tenant_of(self, asset: str, partition: str | None) -> str | None:
        if self.tenant_dimension is None or partition is None:
            return None
        keys = partition_info(self.assets[asset], partition).keys or {}
        return keys.get(self.tenant_dimension)

    def _check_tenants(self, spec: AssetSpec, task: StepTask) -> None:
        # Load-time validation already refuses mappings that cross tenants; this guard makes a
        # mistake in a custom mapping fail loudly instead of leaking another tenant's data.
        tenant = self._tenant_of(spec.name, task.partition)
        if tenant is None or spec.cross_tenant:
            return
        for ref in task.inputs:
            other = self._tenant_of(ref.asset, ref.partition)
            if other is not None and other != tenant:
                raise TenantIsolationError(
                    f"asset `{spec.name}` for tenant `{tenant}` tried to read "
                    f"`{ref.asset}[{ref.partition}]` of tenant `{other}`",
                    hint="A step may only read its own tenant's partitions; declare "
                         "@asset(cross_tenant=True) if this asset must combine tenants.")

    def _compute(self, spec: AssetSpec, task: StepTask, log: StepLog) -> tuple[Any, dict]:
        kwargs = self._inputs(spec, task)
        if spec.wants_context:
            kwargs["context"] = self._context(spec, task, log)
        result = spec.fn(**kwargs)
        metadata: dict[str, Any] = {}
        if isinstance(result, Output):
            result, metadata = result.value, dict(result.metadata)
        if inspect.isgenerator(result) or inspect.iscoroutine(result):
            if inspect.iscoroutine(result):
                result.close()
            raise StepFailure(f"asset `{spec.name}` returned a {type(result).__name__}, which "
                              "cannot be stored", hint="Return the value itself (e.g. a list "
                                                       "built from the generator).")
        return result, metadata

    def _inputs(self, spec: AssetSpec, task: StepTask) -> dict[str, Any]:
        """Load the step's inputs through the upstream I/O managers."""
        self._check_tenants(spec, task)
        kwargs: dict[str, Any] = {}
        for ref in task.inputs:
            if ref.param is None:
                continue
            manager = self.manager_for(ref.asset)
            # The recorded data version: a file that does not hold it is refused.
            context = replace(self.store_context(ref.asset, ref.partition, task.run_id),
                              expected_version=ref.data_version)
            value = manager.load(context)
            if ref.keyed:
                kwargs.setdefault(ref.param, {})[ref.partition] = value
            else:
                kwargs[ref.param] = value
        keyed = set(task.keyed_params)
        for param in spec.inputs:
            # A mapping may yield no upstream partition (e.g. "yesterday" of the first day).
            kwargs.setdefault(param, {} if param in keyed else None)
        return kwargs

    def _review(self, spec: CheckpointSpec, task: StepTask, log: StepLog
                ) -> dict[str, Any] | tuple[Any, dict[str, Any]]:
        """A checkpoint step: the value and metadata to store when it may pass (approved, or
        the condition is false), else what a reviewer needs (preview and hash of the value)."""
        kwargs = self._inputs(spec, task)
        value = kwargs[spec.upstream_input]
        if task.approval is not None:
            return self._approved_value(task, value)
        if spec.wants_context:
            kwargs["context"] = self._context(spec, task, log)
        if not spec.fn(**kwargs):
            return value, {"checkpoint": "passed"}
        upstream = next((r for r in task.inputs if r.param == spec.upstream_input), None)
        return {"summary": preview(value), "value_hash": upstream.data_version if upstream
                else None, "upstream_step_id": upstream.step_id if upstream else None}

    def _approved_value(self, task: StepTask, value: Any) -> tuple[Any, dict]:
        request_id, patch_text = task.approval  # type: ignore[misc]
        metadata: dict[str, Any] = {"checkpoint": "approved", "request_id": request_id}
        patch = json.loads(patch_text) if patch_text else None
        if patch:
            if not json_like(value):
                raise StepFailure(f"checkpoint `{task.asset}`: the approved patch needs a "
                                  f"JSON-like value, got {type(value).__name__}",
                                  hint="Approve without --patch, or review a JSON-like value.")
            metadata.update(patched=True, before_hash=canonical_hash(value))
            value = merge_patch(value, patch)
            metadata["after_hash"] = canonical_hash(value)
        return value, metadata

    def _context(self, spec: AssetSpec, task: StepTask, log: StepLog) -> AssetContext:
        values = {name: self.resources.get(name) for name in spec.requires}
        info = partition_info(spec, task.partition)
        return AssetContext(asset=spec.name, partition=task.partition,
                            partition_window=info.window, partition_keys=dict(info.keys or {}),
                            run_id=task.run_id, step_id=task.step_id, attempt=task.attempt,
                            resources=Resources(values), log=log, tags=dict(task.tags),
                            code_version=spec.code_version, limits=self.limits,
                            config=spec.config.model_validate_json(task.config)
                            if spec.config is not None and task.config is not None else None)

    @staticmethod
    def _describe(spec: AssetSpec, exc: BaseException) -> StepError:
        if isinstance(exc, FlowStoneError):
            retryable = exc.retryable and (spec.retry is not None)
            return StepError(code=exc.code, type=_qualified(exc),
                             message=clip(exc.message, MAX_MESSAGE_CHARS),
                             traceback=_user_traceback(exc) if isinstance(exc, ResourceError)
                             or exc.__cause__ else "", retryable=retryable, hint=exc.hint,
                             retry_after=getattr(exc, "retry_after", None))
        if isinstance(exc, SystemExit):
            message = f"asset `{spec.name}` called sys.exit({exc.code!r})"
        elif isinstance(exc, KeyboardInterrupt):
            message = f"asset `{spec.name}` raised KeyboardInterrupt"
        else:
            message = clip(f"{type(exc).__name__}: {exc}", MAX_MESSAGE_CHARS)
        retryable = spec.retry is not None and isinstance(exc, Exception) and \
            spec.retry.applies_to(exc)
        return StepError(code="user_error", type=_qualified(exc), message=message,
                         traceback=clip(_user_traceback(exc), MAX_TRACEBACK_CHARS),
                         retryable=retryable)


def _logs(log: StepLog) -> tuple[tuple[float, str, str], ...]:
    return tuple((r.ts.timestamp(), r.level.value, r.message) for r in log.records)


def _json_safe(metadata: dict[str, Any]) -> dict[str, Any]:
    safe: dict[str, Any] = {}
    for key, value in metadata.items():
        if isinstance(value, (str, int, float, bool)) or value is None:
            safe[str(key)] = value
        else:
            safe[str(key)] = repr(value) if not isinstance(value, (list, dict)) else value
    return safe


def worker_stdio_to_stderr() -> None:
    """Send a worker's stdout (fd 1 too, which subprocesses inherit) to stderr, so output of
    user code outside a step (resource set-up, teardown) never corrupts `--json` output."""
    sys.stdout.flush()
    os.dup2(2, 1)
    sys.stdout = sys.stderr
