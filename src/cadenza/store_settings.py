"""The settings that open the database, read from the environment without pydantic.

A command that only reads the database (`cadenza contacts list`) needs the database URL and
SQLite's synchronous mode; building every setting through pydantic-settings costs it a
fifth of its start-up. `cadenza.settings.Settings` takes its names and defaults for these
from here, and anything here cannot vouch for (a value Settings would refuse, the public
development secret in production) is handed to the full Settings, which then refuses it
with the very message it always gave: those checks apply exactly as before.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Final

PREFIX = "CADENZA_"
DEV_SECRET = "dev-insecure-secret-change-me"
DEFAULT_DATABASE_URL = "sqlite:///cadenza.db"
# WAL + synchronous=FULL is the durable default; NORMAL is an explicit opt-in.
DEFAULT_SQLITE_SYNCHRONOUS: Final = "FULL"
DEFAULT_ENVIRONMENT: Final = "development"
# The values Settings' Literal types accept (tests/unit/test_store_settings.py compares).
ENVIRONMENTS = ("development", "test", "production")
SQLITE_SYNCHRONOUS = ("FULL", "NORMAL")


@dataclass(frozen=True)
class StoreSettings:
    """Where the database is, and how SQLite writes it."""

    database_url: str
    sqlite_synchronous: str


def public_secret(secret_key: str) -> bool:
    """True when links would be signed with the development secret, which anyone can read."""
    return secret_key.strip() in ("", DEV_SECRET)


def store_settings() -> StoreSettings:
    """The database's settings, as `cadenza.settings.get_settings()` would give them.

    Settings read the environment case-insensitively, as pydantic-settings does.
    """
    env = {name.lower(): value for name, value in os.environ.items()}

    def read(name: str, default: str) -> str:
        return env.get((PREFIX + name).lower(), default)

    found = StoreSettings(
        read("database_url", DEFAULT_DATABASE_URL),
        read("sqlite_synchronous", DEFAULT_SQLITE_SYNCHRONOUS),
    )
    environment = read("environment", DEFAULT_ENVIRONMENT)
    if (
        found.sqlite_synchronous in SQLITE_SYNCHRONOUS
        and environment in ENVIRONMENTS
        and not (environment == "production" and public_secret(read("secret_key", DEV_SECRET)))
    ):
        return found
    from cadenza.settings import get_settings

    settings = get_settings()  # raises ConfigurationError saying what is wrong
    return StoreSettings(settings.database_url, settings.sqlite_synchronous)
