"""Prometheus metrics of ``tryon serve`` with ``prometheus_client`` (one registry per app).

Served by an explicit ``GET /metrics`` route (``generate_latest`` + ``CONTENT_TYPE_LATEST``) rather than a
mounted sub-app, which would answer ``/metrics`` with a 307 redirect to ``/metrics/`` that some scrapers do
not follow (prometheus/client_python #1016). Latencies are histograms with buckets that fit image models
(5 ms … 60 s), so quantiles (p50/p95/p99) can be read from the metrics with ``histogram_quantile`` —
:func:`histogram_quantile` does the same here for the benchmark and the tests.

Names (documented in exports/README.md; the first seven kept from the hand-written version):

* ``tryon_serve_requests_total{route,status}`` — counter: HTTP requests by route template and status;
* ``tryon_serve_infer_requests_total{model,status}`` — counter: inference requests (499 = abandoned);
* ``tryon_serve_inference_seconds{model}`` — histogram: model run time of successful inferences;
* ``tryon_serve_queue_wait_seconds{model}`` — histogram: time waiting for a slot;
* ``tryon_serve_request_seconds{model}`` — histogram: end-to-end time of successful inference requests;
* ``tryon_serve_requests_in_flight``, ``tryon_serve_inferences_running``, ``tryon_serve_inferences_waiting``,
  ``tryon_serve_max_concurrency``, ``tryon_serve_start_time_seconds`` — gauges;
* ``tryon_serve_abandoned_total{model}`` — counter: requests not run because the client left while waiting;
* ``tryon_serve_rejected_total{reason}`` — counter: refusals (busy, queue_full, body_budget, body_timeout,
  too_large, unauthorized, rate_limited, draining, deadline — an iterative pipeline stopped at its deadline);
* ``tryon_serve_buffered_bytes`` — gauge: upload bytes held by requests in progress;
* person cache: ``tryon_serve_catalogue_seconds{model,endpoint}`` (histogram),
  ``tryon_serve_id_lookups_total{kind,result}`` (counter), ``tryon_serve_persons_cached`` and
  ``tryon_serve_garments_cached`` (gauges).
"""

from __future__ import annotations

import math
import time
from typing import Any, Callable

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest

# 5 ms … 60 s, about 1.5× apart: a quantile interpolated inside a bucket is off by at most the bucket's width
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.25, 0.35, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 7.5,
                   10.0, 15.0, 30.0, 60.0)
UNKNOWN_MODEL_LABEL = "_unknown"  # label for 404s on unknown model names (model names start alphanumeric)
REJECT_REASONS = ("busy", "queue_full", "body_budget", "body_timeout", "too_large", "unauthorized", "rate_limited",
                  "draining", "deadline")


class ServeMetrics:
    """The metric objects of one app, in their own :class:`CollectorRegistry`."""

    def __init__(self, models: list[str], max_concurrency: int, *, running: Callable[[], float],
                 waiting: Callable[[], float], buffered: Callable[[], float]):
        r = self.registry = CollectorRegistry()
        self.requests = Counter("tryon_serve_requests", "HTTP requests handled, by route template and status code.",
                                ["route", "status"], registry=r)
        self.infer_requests = Counter(
            "tryon_serve_infer_requests",
            f"Inference requests, by model and status code ({UNKNOWN_MODEL_LABEL} = unknown model; 499 = abandoned).",
            ["model", "status"], registry=r)
        self.inference = Histogram("tryon_serve_inference_seconds",
                                   "Model run time of successful inferences in seconds (decode and encode excluded).",
                                   ["model"], buckets=LATENCY_BUCKETS, registry=r)
        self.queue_wait = Histogram("tryon_serve_queue_wait_seconds",
                                    "Time requests waited for a free slot, in seconds.",
                                    ["model"], buckets=LATENCY_BUCKETS, registry=r)
        self.request = Histogram("tryon_serve_request_seconds",
                                 "End-to-end time of successful inference requests in seconds (upload read included).",
                                 ["model"], buckets=LATENCY_BUCKETS, registry=r)
        self.abandoned = Counter("tryon_serve_abandoned",
                                 "Requests not run because the client disconnected before they got a slot.",
                                 ["model"], registry=r)
        self.rejected = Counter("tryon_serve_rejected", "Requests refused by a limit, by reason.", ["reason"],
                                registry=r)
        self.in_flight = Gauge("tryon_serve_requests_in_flight",
                               "HTTP requests being handled now (this scrape included).", registry=r)
        for name, help_, fn in (
            ("tryon_serve_inferences_running", "Inferences holding a concurrency slot now.", running),
            ("tryon_serve_inferences_waiting", "Requests waiting for a slot now.", waiting),
            ("tryon_serve_buffered_bytes", "Upload bytes held by requests in progress.", buffered),
        ):
            Gauge(name, help_, registry=r).set_function(fn)
        Gauge("tryon_serve_max_concurrency", "Concurrency slots (max_concurrency).", registry=r).set(max_concurrency)
        Gauge("tryon_serve_start_time_seconds", "Unix time the service started.", registry=r).set(round(time.time(), 3))
        for m in models:  # every model's series exist from the start (rate() needs a first sample)
            for h in (self.inference, self.queue_wait, self.request):
                h.labels(model=m)
            self.abandoned.labels(model=m)
        for reason in REJECT_REASONS:
            self.rejected.labels(reason=reason)

    def add_catalogue(self, persons_cached: Callable[[], float], garments_cached: Callable[[], float]) -> None:
        """The person-cache metrics (only when the catalogue endpoints are served)."""
        r = self.registry
        self.catalogue = Histogram("tryon_serve_catalogue_seconds",
                                   "End-to-end time of successful person-cache requests, by model and endpoint.",
                                   ["model", "endpoint"], buckets=LATENCY_BUCKETS, registry=r)
        self.id_lookups = Counter("tryon_serve_id_lookups", "person_id / garment_id lookups, by kind and result.",
                                  ["kind", "result"], registry=r)
        Gauge("tryon_serve_persons_cached", "Persons held in the person cache.",
              registry=r).set_function(persons_cached)
        Gauge("tryon_serve_garments_cached", "Garments held in the garment cache.",
              registry=r).set_function(garments_cached)

    def render(self) -> tuple[bytes, str]:
        return generate_latest(self.registry), CONTENT_TYPE_LATEST

    def value(self, name: str, **labels: str) -> float:
        """One sample's value (0.0 when absent): ``value("tryon_serve_abandoned_total", model="m")``."""
        v = self.registry.get_sample_value(name, labels)
        return 0.0 if v is None else float(v)


def histogram_quantile(q: float, buckets: list[tuple[float, float]]) -> float:
    """Prometheus' ``histogram_quantile``: ``q`` in [0, 1] from cumulative ``(upper bound, count)`` pairs
    (``+Inf`` last), linear inside the bucket; ``nan`` when empty."""
    buckets = sorted(buckets)
    total = buckets[-1][1] if buckets else 0
    if not total:
        return math.nan
    rank = q * total
    prev_le, prev_count = 0.0, 0.0
    for le, count in buckets:
        if count >= rank:
            if math.isinf(le):
                return prev_le
            if count == prev_count:
                return le
            return prev_le + (le - prev_le) * (rank - prev_count) / (count - prev_count)
        prev_le, prev_count = le, count
    return buckets[-1][0]


def parse_buckets(text: str, name: str, **labels: str) -> list[tuple[float, float]]:
    """``(le, cumulative count)`` of histogram ``name`` from Prometheus text (``name`` without ``_bucket``)."""
    from prometheus_client.parser import text_string_to_metric_families

    out = []
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            if s.name == f"{name}_bucket" and all(s.labels.get(k) == v for k, v in labels.items()):
                out.append((float(s.labels["le"]), float(s.value)))
    return out


class MetricsMiddleware:
    """Pure ASGI: counts every HTTP request by route template and status, tracks requests in flight."""

    def __init__(self, app: Any, metrics: ServeMetrics, routes: Any = None):
        self.app, self.metrics, self.routes = app, metrics, routes

    def _route(self, scope: dict) -> str:
        route = scope.get("route")
        if route is None and self.routes is not None:  # refused before routing (401, 429): match it here
            from starlette.routing import Match

            route = next((r for r in self.routes if r.matches(scope)[0] == Match.FULL), None)
        return getattr(route, "path", None) or "unmatched"  # templates only: bounded labels

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 500  # an exception before the response started becomes a 500

        async def send_status(message: dict) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        self.metrics.in_flight.inc()
        try:
            await self.app(scope, receive, send_status)
        finally:
            self.metrics.in_flight.dec()
            self.metrics.requests.labels(route=self._route(scope), status=str(status)).inc()


__all__ = ["ServeMetrics", "MetricsMiddleware", "histogram_quantile", "parse_buckets", "LATENCY_BUCKETS",
           "UNKNOWN_MODEL_LABEL"]
