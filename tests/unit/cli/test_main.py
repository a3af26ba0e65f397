import importlib
import subprocess
import sys

import click
from click.testing import CliRunner

from orkestra.cli.main import _COMMANDS, cli


def test_every_listed_command_resolves_to_a_click_command():
    for name, (module, attr, summary) in _COMMANDS.items():
        command = getattr(importlib.import_module(module), attr)
        assert isinstance(command, click.Command), name
        assert summary and "\n" not in summary


def test_help_lists_every_command():
    out = CliRunner().invoke(cli, ["--help"]).output
    for name in _COMMANDS:
        assert f"  {name} " in out


def test_help_imports_no_subcommand_module():
    code = ("import sys; from click.testing import CliRunner; from orkestra.cli.main import cli; "
            "CliRunner().invoke(cli, ['--help']); "
            "print(sorted(m for m in sys.modules if m.startswith(('orkestra.cli.', 'kubernetes', 'flask'))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "['orkestra.cli.main']"
