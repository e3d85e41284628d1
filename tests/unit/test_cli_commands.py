"""The lazy command table of `cadenza` agrees with the modules that register the commands."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

SRC = str(Path(__file__).resolve().parents[2] / "src")
# Prints, with every module loaded: each top-level name with its help's first paragraph,
# and the `--help` of each name (the reference a lazily loaded command must equal).
_ALL = """
import json, typer, typer.main
from typer.testing import CliRunner
import cadenza.cli as cli
cli.load_all()
group = typer.main.get_command(cli.app)
helps = {n: (c.help or "").split("\\n\\n")[0].replace("\\n", " ").strip()
         for n, c in group.commands.items()}
runner = CliRunner()
screens = {n: runner.invoke(cli.app, [n, "--help"], prog_name="cadenza").output
           for n in group.commands}
top = runner.invoke(cli.app, ["--help"], prog_name="cadenza").output
print(json.dumps({"helps": helps, "screens": screens, "top": top}))
"""
# The same `--help` screen through the console script's path (only that name's modules).
_ONE = """
import sys
from typer.testing import CliRunner
import cadenza.cli as cli
name = sys.argv[1]
cli.load([name])
print(CliRunner().invoke(cli.app, [name, "--help"], prog_name="cadenza").output, end="")
"""


def _python(code: str, *args: str) -> str:
    env = os.environ | {"PYTHONPATH": SRC, "COLUMNS": "100"}
    done = subprocess.run(
        [sys.executable, "-c", code, *args], env=env, capture_output=True, text=True, check=True
    )
    return done.stdout


@pytest.fixture(scope="module")
def reference() -> dict[str, object]:
    return json.loads(_python(_ALL))  # type: ignore[no-any-return]


def test_the_table_names_every_command_with_its_help(reference: dict[str, object]) -> None:
    from cadenza.cli import COMMANDS

    helps = reference["helps"]
    assert isinstance(helps, dict)
    assert {name: text for name, (text, _) in COMMANDS.items()} == helps


def test_help_lists_the_commands_as_loading_everything_does(reference: dict[str, object]) -> None:
    code = "from typer.testing import CliRunner\nimport cadenza.cli as cli\ncli.load([])\n"
    code += "print(CliRunner().invoke(cli.app, ['--help'], prog_name='cadenza').output, end='')"
    assert _python(code) == reference["top"]


def test_each_command_loaded_alone_shows_what_loading_everything_shows(
    reference: dict[str, object],
) -> None:
    from cadenza.cli import COMMANDS

    screens = reference["screens"]
    assert isinstance(screens, dict)
    for name in COMMANDS:
        assert _python(_ONE, name) == screens[name], name


def test_help_imports_neither_sqlalchemy_nor_the_services() -> None:
    code = (
        "import sys\nfrom cadenza.cli import main\nsys.argv = ['cadenza', '--help']\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "print(sorted(m for m in sys.modules if m.startswith(('sqlalchemy', 'cadenza.services'))))"
    )
    assert _python(code).strip().splitlines()[-1] == "[]"
