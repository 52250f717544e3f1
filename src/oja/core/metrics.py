"""Prometheus metrics: HTTP requests, jobs, queue depth and the worker's health.

Request metrics are recorded in-process by the request middleware. Job metrics are read from the job
table at scrape time, so every API replica reports the same truth whichever worker ran the job.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

REGISTRY = CollectorRegistry(auto_describe=True)

HTTP_REQUESTS = Counter(
    "oja_http_requests_total",
    "HTTP requests by route template, method and status.",
    ["route", "method", "status"],
    registry=REGISTRY,
)
HTTP_LATENCY = Histogram(
    "oja_http_request_duration_seconds",
    "HTTP request latency by route template and method.",
    ["route", "method"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
    registry=REGISTRY,
)
JOBS = Gauge(
    "oja_jobs",
    "Jobs in the job table by kind and status.",
    ["kind", "status"],
    registry=REGISTRY,
)
JOB_DURATION = Gauge(
    "oja_job_duration_seconds_avg",
    "Mean run time of succeeded jobs by kind over the last hour.",
    ["kind"],
    registry=REGISTRY,
)
QUEUE_DEPTH = Gauge(
    "oja_queue_depth",
    "Jobs accepted but not yet started.",
    registry=REGISTRY,
)
WORKER_HEARTBEAT_AGE = Gauge(
    "oja_worker_heartbeat_age_seconds",
    "Seconds since a worker last renewed its heartbeat (NaN before any worker beat).",
    registry=REGISTRY,
)
WORKER_RESTARTS = Counter(
    "oja_worker_restarts_total",
    "Child processes (worker, beat) restarted by `oja serve` after they exited.",
    ["process"],
    registry=REGISTRY,
)
