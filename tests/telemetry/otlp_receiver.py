"""A real OTLP/HTTP receiver on 127.0.0.1 for the tests: decodes every POST to /v1/traces."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)


@dataclass
class ReceivedSpan:
    trace_id: str
    span_id: str
    parent_id: str
    name: str
    status: int
    attributes: dict[str, Any]
    events: list[str]
    service: str


@dataclass
class Receiver:
    url: str
    spans: list[ReceivedSpan] = field(default_factory=list)
    requests: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def traces(self) -> dict[str, list[ReceivedSpan]]:
        with self.lock:
            grouped: dict[str, list[ReceivedSpan]] = {}
            for span in self.spans:
                grouped.setdefault(span.trace_id, []).append(span)
            return grouped


def _value(any_value: Any) -> Any:
    kind = any_value.WhichOneof("value")
    return getattr(any_value, kind) if kind else None


def start_receiver() -> tuple[Receiver, ThreadingHTTPServer]:
    """Start the receiver; stop it with `server.shutdown()`."""
    receiver = Receiver(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's name
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            request = ExportTraceServiceRequest()
            request.ParseFromString(body)
            with receiver.lock:
                receiver.requests += 1
                for resource_spans in request.resource_spans:
                    service = {a.key: _value(a.value) for a in
                               resource_spans.resource.attributes}.get("service.name", "")
                    for scope_spans in resource_spans.scope_spans:
                        for span in scope_spans.spans:
                            receiver.spans.append(ReceivedSpan(
                                trace_id=span.trace_id.hex(), span_id=span.span_id.hex(),
                                parent_id=span.parent_span_id.hex(), name=span.name,
                                status=span.status.code,
                                attributes={a.key: _value(a.value) for a in span.attributes},
                                events=[e.name for e in span.events], service=service))
            payload = ExportTraceServiceResponse().SerializeToString()
            self.send_response(200)
            self.send_header("Content-Type", "application/x-protobuf")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    receiver.url = f"http://127.0.0.1:{server.server_address[1]}"
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return receiver, server
