"""The `ork` command group.

Subcommands are imported lazily, on first use, so `ork validate` never pays for the Kubernetes
client or Flask and `ork --help` stays fast. Each command lives in its own module under
`orkestra.cli` and is named in `_COMMANDS`.
"""
from __future__ import annotations

import importlib

import click

_COMMANDS: dict[str, tuple[str, str, str]] = {
    # name: (module, attribute, one-line help shown by `ork --help` without importing the module)
    "run": ("orkestra.cli.run", "run", "Run the operators of a Katalog."),
    "gateway": ("orkestra.cli.gateway", "gateway", "Serve and register the Katalog's webhooks, without reconcilers."),
    "validate": ("orkestra.cli.validate", "validate", "Check a Katalog offline; exit 0 only when it has no error."),
    "template": ("orkestra.cli.template", "template", "Print the merged Katalog in canonical form with every default."),
    "generate": ("orkestra.cli.generate", "generate", "Generate the RBAC bundle and/or the Katalog ConfigMap."),
    "init": ("orkestra.cli.init", "init", "Unpack a starter pack of example operators (no cluster, no network)."),
    "gate": ("orkestra.cli.gate", "gate", "Offline admission check of CR files against a Katalog's rules."),
    "status": ("orkestra.cli.status", "status", "Show the health of a running Orkestra runtime."),
    "events": ("orkestra.cli.events", "events", "Show the Kubernetes Events of a CRD's CRs."),
    "control": ("orkestra.cli.control", "control", "Start the Control Center, a web UI over one or more runtimes."),
    "local": ("orkestra.cli.local", "local", "Run a local Kubernetes control plane for development and tests."),
    "version": ("orkestra.cli.version", "version", "Print the Orkestra, Python and Kubernetes client versions."),
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

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, _COMMANDS[name][2]) for name in self.list_commands(ctx)]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


_DEBUG = "orkestra.debug"


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--debug", is_flag=True, help="Same as LOG_LEVEL=debug.")
@click.pass_context
def cli(ctx: click.Context, debug: bool) -> None:
    """Orkestra: many Kubernetes operators, declared in one Katalog, in one process."""
    ctx.meta[_DEBUG] = debug


def debug_flag() -> str | None:
    """`ork --debug` as the LOG_LEVEL it stands for ("debug"), None when not given. Kept in the
    click context, not written to the environment: the commands build their settings from it."""
    ctx = click.get_current_context(silent=True)
    return "debug" if ctx is not None and ctx.meta.get(_DEBUG) else None
