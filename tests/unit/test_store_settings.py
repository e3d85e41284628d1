"""The database's settings read without pydantic are the ones Settings gives, and whatever
Settings would refuse (a bad value, production's public secret) is refused with its words."""

from __future__ import annotations

from collections.abc import Iterator
from typing import get_args

import pytest

from cadenza import store_settings
from cadenza.errors import ConfigurationError
from cadenza.settings import Settings, get_settings
from cadenza.store_settings import StoreSettings


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    import os

    for name in list(os.environ):
        if name.upper().startswith("CADENZA_"):
            monkeypatch.delenv(name)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def _both() -> tuple[StoreSettings, StoreSettings]:
    get_settings.cache_clear()
    full = get_settings()
    return store_settings.store_settings(), StoreSettings(
        full.database_url, full.sqlite_synchronous
    )


@pytest.mark.parametrize(
    "environment",
    [
        {},
        {"CADENZA_DATABASE_URL": "postgresql+psycopg://u@db/cadenza"},
        {"cadenza_database_url": "sqlite:///lower.db", "CADENZA_SQLITE_SYNCHRONOUS": "NORMAL"},
        {"CADENZA_ENVIRONMENT": "production", "CADENZA_SECRET_KEY": "s" * 32},
        {"CADENZA_ENVIRONMENT": "test", "CADENZA_DATABASE_URL": ""},
    ],
)
def test_the_same_values_as_settings(
    monkeypatch: pytest.MonkeyPatch, environment: dict[str, str]
) -> None:
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    light, full = _both()
    assert light == full


@pytest.mark.parametrize(
    ("environment", "words"),
    [
        ({"CADENZA_ENVIRONMENT": "production"}, "CADENZA_SECRET_KEY must be set"),
        (
            {"CADENZA_ENVIRONMENT": "production", "CADENZA_SECRET_KEY": " "},
            "CADENZA_SECRET_KEY must be set",
        ),
        ({"CADENZA_ENVIRONMENT": "prod"}, "CADENZA_ENVIRONMENT='prod'"),
        ({"CADENZA_SQLITE_SYNCHRONOUS": "full"}, "CADENZA_SQLITE_SYNCHRONOUS='full'"),
    ],
)
def test_what_settings_refuse_is_refused_in_their_words(
    monkeypatch: pytest.MonkeyPatch, environment: dict[str, str], words: str
) -> None:
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ConfigurationError) as full:
        get_settings()
    get_settings.cache_clear()
    with pytest.raises(ConfigurationError) as light:
        store_settings.store_settings()
    assert str(light.value) == str(full.value)
    assert words in str(light.value)


def test_the_names_defaults_and_choices_are_the_settings_own() -> None:
    fields = Settings.model_fields
    assert fields["database_url"].default == store_settings.DEFAULT_DATABASE_URL
    assert fields["sqlite_synchronous"].default == store_settings.DEFAULT_SQLITE_SYNCHRONOUS
    assert fields["environment"].default == store_settings.DEFAULT_ENVIRONMENT
    assert fields["secret_key"].default == store_settings.DEV_SECRET
    assert get_args(fields["environment"].annotation) == store_settings.ENVIRONMENTS
    assert get_args(fields["sqlite_synchronous"].annotation) == store_settings.SQLITE_SYNCHRONOUS
    assert Settings.model_config["env_prefix"] == store_settings.PREFIX
