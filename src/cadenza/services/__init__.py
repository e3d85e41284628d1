"""Use cases over the store: plain functions taking a keyword-only session."""
