"""The FlowStone error tree and the exit codes the CLI maps it to.

Every failure FlowStone reports is a `FlowStoneError` with a stable `code`, a one-line message, a
hint that says what to do next, and whether retrying may help. The CLI prints message and hint and
exits with `exit_code`; only `--debug` shows a traceback.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from typing import Any


class ExitCode(IntEnum):
    """Documented process exit codes of the `flowstone` command."""

    OK = 0
    STEP_FAILED = 1
    BAD_INPUT = 2
    WAITING_APPROVAL = 3
    STORE_BUSY = 4


class FlowStoneError(Exception):
    """Root of every error FlowStone raises on purpose.

    Attributes:
        code: stable machine-readable identifier (shown in `--json` output).
        message: one line saying what happened and to what.
        hint: what the user can do about it (may be empty).
        retryable: whether repeating the same operation may succeed.
        exit_code: the CLI exit code for this error.
    """

    code: str = "flowstone_error"
    exit_code: ExitCode = ExitCode.BAD_INPUT
    default_retryable: bool = False

    def __init__(self, message: str, *, hint: str = "", retryable: bool | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.retryable = self.default_retryable if retryable is None else retryable

    def __reduce__(self) -> tuple[Any, ...]:
        # Errors cross process boundaries (worker -> coordinator); keyword-only arguments are not
        # rebuilt by the default pickling, so rebuild from the full state explicitly.
        return (_rebuild_error, (type(self), self.__dict__.copy()))

    def __str__(self) -> str:
        return self.message

    def to_dict(self) -> dict[str, Any]:
        """The error as plain data for `--json` output and metadata."""
        return {"code": self.code, "message": self.message, "hint": self.hint,
                "retryable": self.retryable}


def _rebuild_error(cls: type[FlowStoneError], state: dict[str, Any]) -> FlowStoneError:
    err = cls.__new__(cls)
    Exception.__init__(err, state.get("message", ""))
    err.__dict__.update(state)
    return err


@dataclass(frozen=True)
class Problem:
    """One problem found while loading or validating a project.

    Attributes:
        code: stable identifier such as `unknown_dependency`.
        message: what is wrong, naming the asset or key.
        location: `file:line` (or a file) where the problem is, if known.
        hint: what to do about it.
    """

    code: str
    message: str
    location: str = ""
    hint: str = ""

    def to_dict(self) -> dict[str, str]:
        return {"code": self.code, "message": self.message, "location": self.location,
                "hint": self.hint}


class ProjectNotFoundError(FlowStoneError):
    """No `flowstone.toml` could be found for this command."""

    code = "project_not_found"


class ConfigError(FlowStoneError):
    """`flowstone.toml` is malformed, has an unknown key, a wrong type or an unset variable.

    `problems` lists every problem found (a file may have several), each with its location.
    """

    code = "config_error"

    def __init__(self, message: str, *, hint: str = "", problems: tuple[Problem, ...] = ()) -> None:
        super().__init__(message, hint=hint)
        self.problems = tuple(problems)

    def to_dict(self) -> dict[str, Any]:
        data = super().to_dict()
        data["problems"] = [p.to_dict() for p in self.problems]
        return data


class DefinitionError(FlowStoneError):
    """The project's definitions or configuration have one or more problems.

    Carries every problem found in one pass so `flowstone check` can list all of them.
    """

    code = "invalid_definitions"

    def __init__(self, problems: list[Problem] | tuple[Problem, ...], *, hint: str = "") -> None:
        self.problems = tuple(problems)
        count = len(self.problems)
        first = self.problems[0].message if self.problems else "invalid definitions"
        message = first if count == 1 else f"{count} problems in the project definitions"
        super().__init__(message, hint=hint or "Run `flowstone check` to see every problem.")

    def to_dict(self) -> dict[str, Any]:
        data = super().to_dict()
        data["problems"] = [p.to_dict() for p in self.problems]
        return data


class SelectionError(FlowStoneError):
    """A selection expression is malformed or matches nothing."""

    code = "invalid_selection"


class NothingSelectedError(SelectionError):
    """A state selection (`status:stale`, `modified`) matches nothing now: nothing to do."""

    code = "nothing_selected"
    exit_code = ExitCode.OK


class InvalidNameError(FlowStoneError):
    """An asset name, partition key or other identifier is unsafe or malformed."""

    code = "invalid_name"


class PartitionError(FlowStoneError):
    """A partition key, range or mapping is invalid for the asset it is used with."""

    code = "invalid_partition"


class UsageError(FlowStoneError):
    """A command was called with options that do not fit together."""

    code = "usage_error"


class NotFoundError(FlowStoneError):
    """A run, step, checkpoint or other record named on the command line does not exist."""

    code = "not_found"


class IOManagerError(FlowStoneError):
    """Storing, loading or deleting a value failed; names the asset, the URI and the cause."""

    code = "io_error"
    exit_code = ExitCode.STEP_FAILED
    default_retryable = True


class CorruptInputError(IOManagerError):
    """A stored value exists but cannot be read back (truncated or torn file)."""

    code = "corrupt_input"
    default_retryable = False


class ResourceError(FlowStoneError):
    """A resource could not be configured, set up or torn down, or failed its health check."""

    code = "resource_error"
    exit_code = ExitCode.STEP_FAILED


class MetadataStoreError(FlowStoneError):
    """The metadata store cannot be used (newer schema, corrupt file, disk full...)."""

    code = "metadata_store_error"


class MetadataStoreBusyError(MetadataStoreError):
    """Another process held the metadata store past the lock deadline."""

    code = "metadata_store_busy"
    exit_code = ExitCode.STORE_BUSY
    default_retryable = True


class StepError(FlowStoneError):
    """A step failed in a way that is not the user's exception (bad return value, crash, timeout)."""

    code = "step_error"
    exit_code = ExitCode.STEP_FAILED


class TenantIsolationError(FlowStoneError):
    """A step tried to read another tenant's partition without `cross_tenant=True`."""

    code = "cross_tenant_read"
    exit_code = ExitCode.STEP_FAILED


class TelemetryExportError(FlowStoneError):
    """An OpenTelemetry collector did not take the traces sent to it."""

    code = "telemetry_export_failed"
    exit_code = ExitCode.STEP_FAILED
    default_retryable = True


class RateLimited(FlowStoneError):
    """Raised by a step to be re-queued after `retry_after` seconds.

    The coordinator puts the step back in its queue without holding a worker, and the attempt
    does not count against the asset's retry policy (a run gives up after a bounded number of
    re-queues or a bounded total wait).
    """

    code = "rate_limited"
    exit_code = ExitCode.STEP_FAILED
    default_retryable = True

    def __init__(self, message: str = "rate limited", *, retry_after: float | None = None,
                 hint: str = "") -> None:
        super().__init__(message, hint=hint or "The API or limit asked to wait; the step is "
                                               "re-queued after the delay.")
        self.retry_after = None if retry_after is None else max(0.0, float(retry_after))


class HttpApiError(ResourceError):
    """An HTTP API answered with an error that retrying does not fix, or kept failing."""

    code = "http_api_error"


class MissingExtraError(FlowStoneError):
    """A feature needs an optional extra (`pip install 'flowstone-cli[NAME]'`) that is missing.

    Exit code 2 (bad input): the command cannot run as installed.
    """

    code = "missing_extra"

    @classmethod
    def for_extra(cls, extra: str, feature: str) -> MissingExtraError:
        """`FEATURE needs the `EXTRA` extra` with the pip command as the hint."""
        return cls(f"{feature} needs the `{extra}` extra, which is not installed",
                   hint=f"Install it: pip install 'flowstone-cli[{extra}]'")


class ClusterStorageError(FlowStoneError):
    """Values would be stored where workers on another machine cannot reach them."""

    code = "storage_not_shared"


class ClusterUnavailableError(FlowStoneError):
    """The Dask scheduler could not be reached, or no worker joined it in time."""

    code = "cluster_unavailable"
    exit_code = ExitCode.STEP_FAILED
    default_retryable = True


class DbtError(FlowStoneError):
    """dbt could not parse or run the project (bad SQL or YAML, missing profile, adapter error)."""

    code = "dbt_error"


class UnrecordedValueError(IOManagerError):
    """A stored value is not the materialization the store records (published, not recorded)."""

    code = "unrecorded_value"
    default_retryable = False
