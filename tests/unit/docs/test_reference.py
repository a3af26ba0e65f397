"""The user reference stays complete: every `ork` command and flag is in docs/cli.md, and every
key the Katalog loader's schema accepts is in docs/katalog.md (as `key`, in backquotes)."""
from __future__ import annotations

import re
from pathlib import Path

import click

from orkestra.cli.main import cli
from orkestra.katalog import schema

DOCS = Path(__file__).resolve().parents[3] / "docs"


def commands() -> dict[str, click.Command]:
    """Every command path (`ork`, `ork local up`, ...) and its click command, walking the group."""
    found: dict[str, click.Command] = {}

    def walk(command: click.Command, path: str) -> None:
        found[path] = command
        if isinstance(command, click.Group):
            ctx = click.Context(command)
            for name in command.list_commands(ctx):
                walk(command.get_command(ctx, name), f"{path} {name}")

    walk(cli, "ork")
    return found


def schema_keys(node: object, out: set[str]) -> set[str]:
    """Every property name anywhere in the schema."""
    if isinstance(node, dict):
        for key, value in (node.get("properties") or {}).items():
            out.add(key)
            schema_keys(value, out)
        for value in node.values():
            if isinstance(value, (dict, list)):
                schema_keys(value, out)
    elif isinstance(node, list):
        for value in node:
            schema_keys(value, out)
    return out


def backquoted(text: str) -> set[str]:
    """Words inside `code` spans and code blocks, split on YAML and path punctuation."""
    blocks = re.findall(r"```[^\n]*\n(.*?)```", text, re.S)
    spans = re.findall(r"`([^`\n]+)`", re.sub(r"```.*?```", "", text, flags=re.S)) + blocks
    return {word for span in spans for word in re.split(r"[^A-Za-z0-9_\-]+", span) if word}


def test_every_command_has_a_section_and_every_flag_is_named():
    text = (DOCS / "cli.md").read_text()
    headings = set(re.findall(r"^#+ `([^`]+)`", text, re.M))
    missing_sections, missing_flags = [], []
    for path, command in commands().items():
        if path != "ork" and not isinstance(command, click.Group) and not any(h.startswith(path) for h in headings):
            missing_sections.append(path)
        for param in command.params:
            if isinstance(param, click.Option):
                for flag in param.opts + param.secondary_opts:
                    if not re.search(rf"(?<![\w-]){re.escape(flag)}(?![\w-])", text):
                        missing_flags.append(f"{path} {flag}")
    assert missing_sections == [], "commands without a `### `ork …`` heading in docs/cli.md"
    assert missing_flags == [], "flags not named in docs/cli.md"


def test_every_katalog_key_the_loader_accepts_is_in_the_reference():
    keys = schema_keys(schema.KATALOG, set())
    assert {"apiTypes", "operatorBox", "failureThreshold", "toNamespaces", "cleanupOnShutdown"} <= keys  # the walk works
    documented = backquoted((DOCS / "katalog.md").read_text())
    assert sorted(keys - documented) == []


def test_the_reference_pages_link_to_each_other_and_exist():
    for page in ("getting-started.md", "cli.md", "katalog.md", "deploying.md", "operating.md", "packs.md"):
        text = (DOCS / page).read_text()
        for target in re.findall(r"\]\(([a-z-]+\.md)(?:#[^)]*)?\)", text):
            assert (DOCS / target).is_file(), f"{page} links to missing {target}"
