"""Webhook subscriptions: history events out to a CRM, signed, retried and logged."""

from __future__ import annotations

from typing import TYPE_CHECKING

from cadenza.lazy import exports

if TYPE_CHECKING:
    from .delivering import Transport, deliver_due, delivery_row, list_deliveries, send_test
    from .managing import (
        EVENT_TYPES,
        MANAGE,
        change,
        create,
        describe,
        get,
        list_subscriptions,
        remove,
    )
else:
    __getattr__, __dir__ = exports(__name__)

__all__ = [
    "EVENT_TYPES",
    "MANAGE",
    "Transport",
    "change",
    "create",
    "deliver_due",
    "delivery_row",
    "describe",
    "get",
    "list_deliveries",
    "list_subscriptions",
    "remove",
    "send_test",
]
