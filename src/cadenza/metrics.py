"""The process's own Prometheus figures: what the worker and dispatcher in this process did.

Figures about the database (the due backlog, the outbox) are read at scrape time instead
(services/operations); these count what happened here since the process started.
"""

from __future__ import annotations

from prometheus_client import Counter, Histogram

# Claims and batches take milliseconds when healthy and seconds when something is wrong.
_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)

STEPS = Counter("cadenza_steps", "Enrollments advanced by the worker(s) of this process.")
BATCH_SECONDS = Histogram(
    "cadenza_batch_seconds", "Seconds a worker batch took: claim, decide, write.", buckets=_BUCKETS
)
CLAIM_SECONDS = Histogram(
    "cadenza_claim_seconds", "Seconds the claim of due enrollments took.", buckets=_BUCKETS
)
WORKER_ERRORS = Counter(
    "cadenza_worker_errors", "Worker batches that rolled back (retried) or failed."
)
SENDS = Counter("cadenza_sends", "Messages the dispatcher handed over, by result.", ["result"])
