"""`http_api`: a built-in resource for HTTP APIs (LLM endpoints and the like).

`[resources.llm] type = "http_api"` with `base_url`, `headers`, `rate`, `burst`,
`max_concurrency`, `timeout` and retry settings. Every attempt first takes its turn in the rate
limit (GCRA over `.flowstone/ratelimits.sqlite`, shared by every process of every run of the
project) and a concurrency slot (a `flock`ed file, see `resources/slots.py`), then sends the
request with the standard library. 429, 5xx, timeouts and connection errors are retried with
exponential backoff and jitter, honouring `Retry-After`; other 4xx fail at once with the
response's message. A 429 that outlasts the retries raises `RateLimited`, so the coordinator
re-queues the step without holding a worker.
"""

from __future__ import annotations

import http.client
import json as jsonlib
import random
import socket
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

from pydantic import Field, field_validator

from flowstone_cli.errors import ConfigError, HttpApiError, RateLimited
from flowstone_cli.resources.api_calls import CallLog, usage_of
from flowstone_cli.resources.base import Resource
from flowstone_cli.resources.rate_limiter import RateLimiter, parse_rate
from flowstone_cli.resources.registry import LIMITS_FILE, STATE_DIR
from flowstone_cli.resources.slots import SlotGroup, slot_folder_name


@dataclass(frozen=True)
class ApiResponse:
    """A successful response: status, headers (lower-case names) and body."""

    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""

    @property
    def text(self) -> str:
        """The body decoded as UTF-8."""
        return self.body.decode("utf-8", errors="replace")

    def json(self) -> Any:
        """The body parsed as JSON."""
        return jsonlib.loads(self.body) if self.body else None


def retry_after_seconds(value: str | None) -> float | None:
    """`Retry-After` as seconds: a number, or an HTTP date (None when absent or unreadable)."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError, IndexError, OverflowError):
        return None


def error_message(body: bytes) -> str:
    """The message of an error response: JSON `error.message`, `message`, `detail` or `error`,
    else the start of the text."""
    try:
        document = jsonlib.loads(body)
    except (ValueError, UnicodeDecodeError):
        document = None
    if isinstance(document, dict):
        error = document.get("error")
        if isinstance(error, dict) and isinstance(error.get("message"), str):
            return error["message"]
        for key in ("message", "detail", "error"):
            if isinstance(document.get(key), str):
                return document[key]
    text = body.decode("utf-8", errors="replace").strip()
    return text[:300] or "(empty response)"


class HttpApi(Resource):
    """Configuration of an HTTP API resource (see the module docstring)."""

    base_url: str = Field(min_length=1)
    headers: dict[str, str] = Field(default_factory=dict)
    rate: str | None = None
    burst: int = Field(default=1, ge=1)
    max_concurrency: int | None = Field(default=None, ge=1)
    timeout: float = Field(default=30.0, gt=0)
    retries: int = Field(default=5, ge=0)
    backoff: float = Field(default=0.5, ge=0)
    max_backoff: float = Field(default=30.0, ge=0)
    limit_key: str | None = None
    state_dir: str = ""

    @field_validator("rate")
    @classmethod
    def _rate_parses(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                parse_rate(value)
            except ConfigError as exc:
                raise ValueError(exc.message) from None
        return value

    @field_validator("base_url")
    @classmethod
    def _is_http(cls, value: str) -> str:
        if urllib.parse.urlsplit(value).scheme not in ("http", "https"):
            raise ValueError("base_url must start with http:// or https://")
        return value.rstrip("/")

    @property
    def key(self) -> str:
        """What the rate and concurrency limits are shared by: `limit_key`, else host:port."""
        return self.limit_key or urllib.parse.urlsplit(self.base_url).netloc

    def setup(self) -> HttpApiClient:
        return HttpApiClient(self)

    def health_check(self) -> str | None:
        """A problem when nothing accepts connections at base_url's host and port."""
        parts = urllib.parse.urlsplit(self.base_url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
        try:
            socket.create_connection((parts.hostname or "", port), timeout=self.timeout).close()
        except OSError as exc:
            return f"cannot connect to {parts.hostname}:{port}: {exc.strerror or exc}"
        return None


class HttpApiClient:
    """What an asset receives for an `http_api` resource: `get`, `post`, `request`."""

    def __init__(self, config: HttpApi) -> None:
        self.config = config
        state = Path(config.state_dir or STATE_DIR)
        self._rate = parse_rate(config.rate, burst=config.burst) if config.rate else None
        self._limiter = RateLimiter(state / LIMITS_FILE) if self._rate else None
        self._slots = (SlotGroup(state / "concurrency" / slot_folder_name(config.key),
                                 config.max_concurrency) if config.max_concurrency else None)
        self._bucket = f"http:{config.key}"
        self.calls = CallLog()

    def get(self, path: str = "", **kwargs: Any) -> Any:
        """GET `path` (relative to base_url) and return the parsed JSON body."""
        return self.request("GET", path, **kwargs).json()

    def post(self, path: str = "", json: Any = None, **kwargs: Any) -> Any:
        """POST `json` to `path` and return the parsed JSON body."""
        return self.request("POST", path, json=json, **kwargs).json()

    def request(self, method: str, path: str = "", *, json: Any = None, data: bytes | None = None,
                params: dict[str, Any] | None = None,
                headers: dict[str, str] | None = None) -> ApiResponse:
        """Send one call, within the rate and concurrency limits, retrying what may pass later.

        Raises:
            HttpApiError: a non-retryable answer (4xx other than 429, with the response's
                message), or a 5xx/timeout that outlasted the retries (retryable).
            RateLimited: 429 answers outlasted the retries (the step is re-queued).
        """
        url = self.config.base_url + ("/" + path.lstrip("/") if path else "")
        if params:
            url += "?" + urllib.parse.urlencode(params)
        send_headers = {**self.config.headers, **(headers or {})}
        body = data
        if json is not None:
            body = jsonlib.dumps(json).encode("utf-8")
            send_headers.setdefault("Content-Type", "application/json")
        where = f"{method} {urllib.parse.urlsplit(url).path}"
        started, waited, retries = time.monotonic(), 0.0, 0
        while True:
            waited += self._take_turn()
            status, answer_headers, payload, failure = self._send(method, url, body,
                                                                  send_headers)
            if status is not None and status < 400:
                self._record(where, status, started, retries, waited, usage_of(payload))
                return ApiResponse(status, answer_headers, payload)
            retry_after = retry_after_seconds(answer_headers.get("retry-after"))
            what = failure or f"HTTP {status}: {error_message(payload)}"
            if status is not None and status < 500 and status != 429:
                self._record(where, status, started, retries, waited, {}, what)
                raise HttpApiError(f"{where} failed with {what}", retryable=False,
                                   hint="The API refused the request; retrying will not help. "
                                        "Check the request and credentials.")
            if status == 429 and retry_after and self._limiter and self._rate:
                self._limiter.push_back(self._bucket, self._rate, retry_after)
            if retries >= self.config.retries:
                self._record(where, status, started, retries, waited, {}, what)
                if status == 429:
                    raise RateLimited(f"{where} still rate limited after {retries} retries",
                                      retry_after=retry_after if retry_after is not None
                                      else self._backoff(retries))
                raise HttpApiError(f"{where} failed after {retries} retries: {what}",
                                   retryable=True, hint="The API kept failing; the asset's "
                                   "retry policy may try the step again.")
            time.sleep(self._delay(retries, retry_after))
            retries += 1

    def _take_turn(self) -> float:
        waited = 0.0
        if self._limiter is not None and self._rate is not None:
            waited = self._limiter.acquire(self._bucket, self._rate)
        return waited

    def _send(self, method: str, url: str, body: bytes | None, headers: dict[str, str]
              ) -> tuple[int | None, dict[str, str], bytes, str | None]:
        slot = self._slots.acquire() if self._slots is not None else None
        request = urllib.request.Request(url, data=body, headers=headers, method=method)
        try:
            with urllib.request.urlopen(request, timeout=self.config.timeout) as response:
                return response.status, _lower(response.headers), response.read(), None
        except urllib.error.HTTPError as exc:
            with exc:
                return exc.code, _lower(exc.headers), exc.read(), None
        except (TimeoutError, urllib.error.URLError, ConnectionError,
                http.client.HTTPException) as exc:
            reason = getattr(exc, "reason", None) or exc
            return None, {}, b"", f"{type(exc).__name__}: {reason}"
        finally:
            if slot is not None:
                slot.release()

    def _backoff(self, retries: int) -> float:
        return min(self.config.max_backoff, self.config.backoff * (2 ** retries))

    def _delay(self, retries: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return retry_after + random.uniform(0, self.config.backoff / 2)
        ceiling = self._backoff(retries)
        return random.uniform(ceiling / 2, ceiling)

    def _record(self, where: str, status: int | None, started: float, retries: int,
                waited: float, usage: dict[str, float], error: str | None = None) -> None:
        method, _, path = where.partition(" ")
        self.calls.add(method=method, path=path, status=status,
                       latency_ms=(time.monotonic() - started - waited) * 1000,
                       retries=retries, rate_wait_s=waited, usage=usage, error=error)

    def flowstone_step_metadata(self) -> dict[str, Any] | None:
        """The summary of this step's calls (the step runner stores it as metadata)."""
        return self.calls.drain()


def _lower(headers: Any) -> dict[str, str]:
    return {str(k).lower(): str(v) for k, v in (headers.items() if headers else ())}
