"""A local HTTP API for the rate-limit tests: counts requests per one-second window and answers
429 (with Retry-After) over its limit, like a paid API does.

Runs in a thread of the test process on 127.0.0.1 with a free port. Routes:
- `POST /v1/complete`: `{"text": ..., "usage": {...}}` (or 429 over the limit; every
  `fail_every`-th request answers 503 or 429 to exercise retries);
- `POST /v1/bad`: 400 with a JSON error message (non-retryable);
- `GET /v1/quota`: `{"remaining": 0, ...}` on the first call, then 100.
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class ApiServer:
    """The server and what it saw: `windows` counts accepted requests per second."""

    def __init__(self, limit_per_second: int, *, fail_every: int = 0,
                 retry_after: float = 0.2, delay: float = 0.0) -> None:
        self.limit = limit_per_second
        self.delay = delay
        self.in_flight = 0
        self.max_in_flight = 0
        self.fail_every = fail_every
        self.retry_after = retry_after
        self.windows: Counter[int] = Counter()
        self.arrivals: list[float] = []
        self.over_limit = 0
        self.injected = 0
        self.served = 0
        self.bodies: list[dict] = []
        self.quota_checks = 0
        self._lock = threading.Lock()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                # `/v1/quota`: nothing left on the first check, plenty afterwards.
                with owner._lock:
                    owner.quota_checks += 1
                    remaining = 0 if owner.quota_checks == 1 else 100
                data = json.dumps({"remaining": remaining, "resets_in": 0.2}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                with owner._lock:
                    owner.in_flight += 1
                    owner.max_in_flight = max(owner.max_in_flight, owner.in_flight)
                try:
                    status, headers, payload = owner.answer(self.path, body)
                    time.sleep(owner.delay)
                finally:
                    with owner._lock:
                        owner.in_flight -= 1
                data = json.dumps(payload).encode()
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def answer(self, path: str, body: dict) -> tuple[int, dict[str, str], dict]:
        """Decide the response to one request (counted in its arrival second)."""
        now = time.time()
        with self._lock:
            self.arrivals.append(now)
            window = int(now)
            if path == "/v1/bad":
                return 400, {}, {"error": {"message": "model `gpt-x` does not exist"}}
            if self.windows[window] >= self.limit:
                self.over_limit += 1
                return 429, {"Retry-After": "1"}, {"error": {"message": "rate limit exceeded"}}
            self.windows[window] += 1
            number = sum(self.windows.values())
            if self.fail_every and number % self.fail_every == 0:
                self.injected += 1
                if (number // self.fail_every) % 2:
                    return 503, {}, {"error": {"message": "overloaded"}}
                return 429, {"Retry-After": str(self.retry_after)}, {"error": {
                    "message": "slow down"}}
            self.served += 1
            self.bodies.append(body)
        return 200, {}, {"text": "ok", "usage": {"prompt_tokens": 3, "completion_tokens": 5,
                                                 "total_tokens": 8}}

    def max_per_window(self) -> int:
        """The most requests the server accepted in any one-second window."""
        with self._lock:
            return max(self.windows.values(), default=0)

    def __enter__(self) -> ApiServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
