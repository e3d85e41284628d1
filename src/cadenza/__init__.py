"""Cadenza: a self-hostable sales-engagement sequence engine."""

__version__ = "0.1.0"
