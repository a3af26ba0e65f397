"""Helpers for Katalog tests: write a YAML text to a file and load it."""
from __future__ import annotations

import textwrap

import pytest

from orkestra.config import katalog_inputs
from orkestra.katalog.loader import LoadReport, load_report

HEAD = "apiVersion: orkestra.orkspace.io/v1\nkind: Katalog\nmetadata: {name: test}\n"


@pytest.fixture
def write(tmp_path):
    def _write(text: str, name: str = "katalog.yaml") -> str:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
        return str(path)
    return _write


@pytest.fixture
def report(write):
    def _report(text: str, *, env: dict | None = None, head: bool = True) -> LoadReport:
        body = textwrap.dedent(text)
        return load_report([write(HEAD + body if head else body)], katalog_inputs(env or {}))
    return _report


def messages(issues) -> list[str]:
    return [i.message for i in issues]
