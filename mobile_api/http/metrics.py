"""Prometheus metrics, aggregated across gunicorn workers through the client's multiprocess mode."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator

from flask import Flask, Response, g, request
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily

REQUESTS = Counter("zhijiao_http_requests_total", "HTTP requests", ["method", "endpoint", "status"])
LATENCY = Histogram("zhijiao_http_request_seconds", "HTTP request latency", ["method", "endpoint"])


class BacklogCollector:
    """Read at scrape time: RQ queue depth and failed jobs, the outbox backlog and the age of its oldest row.

    Not per process, so not multiprocess. Alert on the oldest row's age (work is stuck) and on failed jobs
    (rows that end done are taken out of the failed registry: docs/schedules.md#faults).
    """

    def collect(self) -> Iterator[GaugeMetricFamily]:
        from backend.db import db
        from backend.services.core import outbox

        depth = GaugeMetricFamily("zhijiao_queue_depth", "Jobs waiting in RQ", labels=["queue"])
        failed = GaugeMetricFamily("zhijiao_rq_failed_jobs", "Jobs in RQ's failed-job registry", labels=["queue"])
        try:
            q = outbox.get_queue()
            depth.add_metric([q.name], len(q))
            failed.add_metric([q.name], outbox.failed_jobs())
        except Exception:  # noqa: BLE001 - Redis down: report nothing rather than fail the scrape
            pass
        yield depth
        yield failed
        backlog = GaugeMetricFamily("zhijiao_outbox_backlog", "Outbox rows not yet done")
        oldest = GaugeMetricFamily(
            "zhijiao_outbox_oldest_pending_seconds", "Age of the oldest pending outbox row (0 when none is pending)"
        )
        s = db.new_session()
        try:
            backlog.add_metric([], outbox.backlog(s))
            oldest.add_metric([], outbox.oldest_pending_age_s(s))
        except Exception:  # noqa: BLE001
            pass
        finally:
            s.close()
        yield backlog
        yield oldest


def metrics_response() -> Response:
    """The Prometheus text: every gunicorn worker's counters summed (multiprocess mode), then the backlog."""
    registry = CollectorRegistry()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.MultiProcessCollector(registry)
    else:
        from prometheus_client import REGISTRY

        registry = REGISTRY
    out = generate_latest(registry) + generate_latest(_backlog_registry())
    return Response(out, mimetype=CONTENT_TYPE_LATEST)


_BACKLOG: CollectorRegistry | None = None


def _backlog_registry() -> CollectorRegistry:
    global _BACKLOG
    if _BACKLOG is None:
        _BACKLOG = CollectorRegistry(auto_describe=False)
        _BACKLOG.register(BacklogCollector())
    return _BACKLOG


def instrument(app: Flask) -> None:
    """Count every response and time it, labelled by the URL rule (not the raw path: bounded cardinality)."""

    @app.before_request
    def _start() -> None:
        g._t0 = time.perf_counter()

    @app.after_request
    def _count(resp):
        endpoint = request.url_rule.rule if request.url_rule is not None else "unmatched"
        REQUESTS.labels(request.method, endpoint, str(resp.status_code)).inc()
        if hasattr(g, "_t0"):
            LATENCY.labels(request.method, endpoint).observe(time.perf_counter() - g._t0)
        return resp
