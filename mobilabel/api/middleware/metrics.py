"""Prometheus metrics of the API: request latency per route, and predict batch sizes.

Each app has its own registry, so several apps in one process (tests) never clash.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

from fastapi import Request, Response
from prometheus_client import CollectorRegistry, Histogram, generate_latest

_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class RequestMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.latency = Histogram(
            "mobilabel_http_request_duration_seconds",
            "Time from request to response headers, by method, route template and status",
            ("method", "route", "status"),
            registry=self.registry,
            buckets=_LATENCY_BUCKETS,
        )
        self.predict_batch = Histogram(
            "mobilabel_predict_batch_size",
            "Images per forward pass of /api/predict after dynamic batching",
            registry=self.registry,
            buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256),
        )

    async def middleware(self, request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        started = time.perf_counter()
        response = await call_next(request)
        self.latency.labels(request.method, _route(request), str(response.status_code)).observe(time.perf_counter() - started)
        return response

    def exposition(self) -> bytes:
        return generate_latest(self.registry)


def _route(request: Request) -> str:
    # The template (/api/jobs/{job_id}), not the path, so labels stay few; routing records it in the scope.
    route = request.scope.get("route")
    return str(getattr(route, "path", "unmatched"))
