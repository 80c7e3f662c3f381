"""Prometheus metrics for GET /metrics: requests by route and status, latency, scored customers,
the model versions serving. With several workers, ``cxml serve`` sets PROMETHEUS_MULTIPROC_DIR
and every worker's numbers are summed."""

from __future__ import annotations

import contextvars
import logging
import os
import re
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)
from starlette.types import Scope

#: The id of the request being answered (set by the Guard), for the server log.
REQUEST_ID: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")


class RequestIdFilter(logging.Filter):
    """Adds ``request_id`` to every record, so a log line can be matched to a response."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = REQUEST_ID.get()
        return True


def _template_patterns() -> list[tuple[re.Pattern[str], str]]:
    from serve.operations import OPERATION_IDS

    out = []
    for _, template in sorted(OPERATION_IDS, key=lambda k: -len(k[1])):
        pattern = re.sub(r"\\\{[^}]+\\\}", "[^?]+", re.escape(template))
        out.append((re.compile(f"^{pattern}(?=\\?|$)"), template))
    return out


class PathTemplateFilter(logging.Filter):
    """Access lines name the route template, not the path asked for: ids in paths
    (customers, follow-ups) and query values are personal data that an erasure cannot reach
    in a log file. ``/v1/customers/C42?lang=ja`` is logged as ``/v1/customers/{customer_id}?…``."""

    patterns: list[tuple[re.Pattern[str], str]] | None = None

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) == 5 and isinstance(args[2], str):
            if PathTemplateFilter.patterns is None:
                PathTemplateFilter.patterns = _template_patterns()
            path, _, query = args[2].partition("?")
            shown = next(
                (t for pattern, t in PathTemplateFilter.patterns if pattern.match(path)),
                path if path.count("/") <= 2 else "(other)",
            )
            record.args = (args[0], args[1], shown + ("?…" if query else ""), args[3], args[4])
        return True


def log_config() -> dict[str, Any]:
    """uvicorn's logging, with the request id on every access line and on cxml's own lines
    (``cxml.serve``: errors, reloads, the audit of admin actions). Headers (API keys among
    them) and bodies are never logged."""
    import copy

    from uvicorn.config import LOGGING_CONFIG

    config = copy.deepcopy(LOGGING_CONFIG)
    config["filters"] = {
        "request_id": {"()": RequestIdFilter},
        "path_template": {"()": PathTemplateFilter},
    }
    config["formatters"]["access"]["fmt"] = (
        '%(levelprefix)s %(client_addr)s - "%(request_line)s" %(status_code)s '
        "request=%(request_id)s"
    )
    config["formatters"]["default"]["fmt"] = "%(levelprefix)s %(message)s request=%(request_id)s"
    for handler in config["handlers"].values():
        handler["filters"] = ["request_id"]
    config["handlers"]["access"]["filters"] = ["request_id", "path_template"]
    config["loggers"]["cxml"] = {"handlers": ["default"], "level": "INFO", "propagate": False}
    return config


REQUESTS = Counter(
    "cxml_http_requests_total", "HTTP requests answered", ["method", "route", "status"]
)
LATENCY = Histogram(
    "cxml_http_request_duration_seconds",
    "Time to answer a request",
    ["method", "route"],
    buckets=(0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
SCORED = Counter("cxml_scored_customers_total", "Customers scored over HTTP")
SCORE_BATCH = Histogram(
    "cxml_score_batch_requests",
    "Score requests computed together in one batch (more under load)",
    buckets=(1, 2, 4, 8, 16, 32, 64, 128),
)
ANALYSED = Counter("cxml_analysed_texts_total", "Texts analysed over HTTP")
MODEL = Gauge(
    "cxml_model_info",
    "1 for each model version serving",
    ["kind", "version"],
    multiprocess_mode="liveall",
)


def observe(scope: Scope, status: int, seconds: float) -> None:
    """Count one answered request under its route template (never the raw path)."""
    route = scope.get("route")
    template = getattr(route, "path", "unmatched")
    method = scope.get("method", "")
    REQUESTS.labels(method, template, str(status)).inc()
    LATENCY.labels(method, template).observe(seconds)


def models_loaded(loaded: Any) -> None:
    """Publish which versions serve in this worker."""
    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):  # not supported across processes
        MODEL.clear()
    MODEL.labels("churn", str(loaded.churn_version)).set(1 if loaded.churn is not None else 0)
    MODEL.labels("text", str(loaded.text_version)).set(1 if loaded.text is not None else 0)


def render() -> tuple[bytes, str]:
    """The exposition text of every metric (all workers' when multiprocess)."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST
