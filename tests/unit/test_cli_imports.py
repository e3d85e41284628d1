"""A listing command loads what it lists, not the engine: no template engine, HTTP client,
phone or email parsers, holiday tables or definition model (the start-up time they cost)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

SRC = str(Path(__file__).resolve().parents[2] / "src")
# Runs `cadenza ARGS…` and prints, as it exits, every module the process loaded.
_RUN = """
import atexit, json, sys
atexit.register(lambda: print(json.dumps(sorted(sys.modules)), file=sys.stderr))
from cadenza.cli import main
sys.argv[0] = "cadenza"
main()
"""
HEAVY = (
    "jinja2",
    "httpx",
    "phonenumbers",
    "email_validator",
    "holidays",
    "dkim",
    "fastapi",
    "cadenza.core.templates",
    "cadenza.core.machine",
    "cadenza.services.enrollments.applying",
    "cadenza.services.events.recording",
    "cadenza.services.outbox.rendering",
)
LISTINGS = (
    "contacts list",
    "sequences list",
    "tasks list",
    "enrollments list",
    "messages list",
    "users list",
    "senders list",
)


@pytest.fixture(scope="module")
def database(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    url = f"sqlite:///{tmp_path_factory.mktemp('cli-imports') / 'small.db'}"
    env = _env(url)
    subprocess.run([sys.executable, "-c", _RUN, "init"], env=env, check=True, capture_output=True)
    return env


def _env(url: str) -> dict[str, str]:
    env = os.environ | {"PYTHONPATH": SRC, "CADENZA_DATABASE_URL": url}
    for name in ("CADENZA_AS", "CADENZA_NOW"):
        env.pop(name, None)
    return env


def _loaded(env: dict[str, str], *args: str) -> set[str]:
    done = subprocess.run(
        [sys.executable, "-c", _RUN, *args], env=env, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    return set(json.loads(done.stderr.strip().splitlines()[-1]))


def _heavy(modules: set[str]) -> list[str]:
    return sorted(name for name in HEAVY if name in modules)


# `contacts list` and `sequences list` read through SQLAlchemy Core (store/columns.py) and
# open the database with its own settings (store_settings.py): none of these is loaded.
CORE_LISTINGS = ("contacts list", "sequences list")
NOT_ON_THE_CORE_PATH = (
    "sqlalchemy.orm",
    "cadenza.store.models",
    "cadenza.store.db",
    "cadenza.settings",
    "pydantic",
    "pydantic_settings",
    "rich",
    "cadenza.services.users.access",
    "cadenza.services.contacts.records",
    "cadenza.services.sequences.listing",
    "cadenza.core.definition",
    "cadenza.engine",
)


@pytest.mark.parametrize("command", LISTINGS)
def test_a_listing_loads_nothing_heavy(database: dict[str, str], command: str) -> None:
    modules = _loaded(database, *command.split(), "--json")
    read = "cadenza.store.columns" if command in CORE_LISTINGS else "cadenza.store.models"
    assert read in modules  # it did read the database
    assert _heavy(modules) == []


@pytest.mark.parametrize("command", CORE_LISTINGS)
@pytest.mark.parametrize("as_json", [True, False], ids=["json", "table"])
def test_contacts_and_sequences_list_read_through_core_alone(
    database: dict[str, str], command: str, as_json: bool
) -> None:
    modules = _loaded(database, *command.split(), *(["--json"] if as_json else []))
    assert "sqlalchemy" in modules
    loaded = sorted(name for name in NOT_ON_THE_CORE_PATH if name in modules)
    assert loaded == (["rich"] if not as_json else [])  # a table is drawn by rich


def test_help_loads_no_service(database: dict[str, str]) -> None:
    modules = _loaded(database, "--help")
    assert not any(name.startswith("cadenza.services") for name in modules)
    assert "sqlalchemy" not in modules


def test_a_re_exported_name_loads_its_module_when_read() -> None:
    code = (
        "import sys, cadenza.services.contacts as c; before = 'jinja2' in sys.modules; "
        "c.create_contact; "
        "print(before, callable(c.create_contact), 'list_contacts' in dir(c))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], env=_env("sqlite://"), capture_output=True, text=True
    )
    assert done.stdout.split() == ["False", "True", "True"], done.stderr


def test_an_unknown_name_is_an_attribute_error() -> None:
    import cadenza.services.tasks as tasks

    with pytest.raises(AttributeError, match="no_such_thing"):
        tasks.no_such_thing  # noqa: B018
    assert tasks.queue.__name__ == "cadenza.services.tasks.queue"  # a submodule re-exported


def test_every_name_a_package_re_exports_resolves() -> None:
    import importlib
    import pkgutil

    import cadenza

    lazy = []
    for info in pkgutil.walk_packages(cadenza.__path__, "cadenza."):
        if info.ispkg and ".web" not in info.name and ".api" not in info.name:
            package = importlib.import_module(info.name)
            if "__getattr__" in vars(package):
                lazy.append(package)
    assert len(lazy) >= 10
    broken = []
    for package in lazy:
        for name in dir(package):
            try:
                getattr(package, name)
            except (AttributeError, ImportError):
                broken.append(f"{package.__name__}.{name}")
    assert broken == []
