"""Bounds every surface checks before a value reaches a database (importable for free)."""

from __future__ import annotations

MAX_ID = 2**63 - 1  # the databases' BIGINT: a larger id is refused, never sent to them
