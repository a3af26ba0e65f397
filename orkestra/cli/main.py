"""The `ork` command group.

Subcommands are imported lazily, on first use, so `ork validate` never pays for the Kubernetes
client or Flask and `ork --help` stays fast. Each command lives in its own module under
`orkestra.cli` and is named in `_COMMANDS`.
"""
from __future__ import annotations

import importlib
import os

import click

_COMMANDS: dict[str, tuple[str, str]] = {
    # name: (module, attribute)
    "run": ("orkestra.cli.run", "run"),
    "gateway": ("orkestra.cli.gateway", "gateway"),
    "validate": ("orkestra.cli.validate", "validate"),
    "template": ("orkestra.cli.template", "template"),
    "generate": ("orkestra.cli.generate", "generate"),
    "gate": ("orkestra.cli.gate", "gate"),
    "status": ("orkestra.cli.status", "status"),
    "events": ("orkestra.cli.events", "events"),
    "local": ("orkestra.cli.local", "local"),
    "version": ("orkestra.cli.version", "version"),
}


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(_COMMANDS) | set(self.commands))

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name in self.commands:
            return self.commands[name]
        target = _COMMANDS.get(name)
        if target is None:
            return None
        module = importlib.import_module(target[0])
        return getattr(module, target[1])


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--debug", is_flag=True, help="Same as LOG_LEVEL=debug.")
def cli(debug: bool) -> None:
    """Orkestra: many Kubernetes operators, declared in one Katalog, in one process."""
    if debug:
        os.environ["LOG_LEVEL"] = "debug"
