"""semverCompare's constraint language (Helm/Sprig semantics), table-driven."""
from __future__ import annotations

import pytest

from orkestra.template import TemplateEvalError, compile_template
from orkestra.template.library.semver import parse_version, satisfies

CASES = [
    # plain comparators
    (">=1.2.0", "1.2.0", True), (">=1.2.0", "1.1.9", False), (">1.2.0", "1.2.0", False),
    ("<1.2.0", "1.1.99", True), ("<=1.2.0", "1.2.0", True), ("=1.2.3", "1.2.3", True),
    ("1.2.3", "1.2.4", False), ("!=1.2.3", "1.2.4", True), ("!=1.2.3", "1.2.3", False),
    ("=>1.0", "1.0.0", True), ("=<1.0", "1.0.5", True),
    # partial versions expand like Sprig
    (">1.2", "1.2.9", False), (">1.2", "1.3.0", True), ("<=1.2", "1.2.9", True),
    ("<=1.2", "1.3.0", False), ("1.2", "1.2.7", True), ("1.2", "1.3.0", False),
    ("!=1.2", "1.2.3", False), ("!=1.2", "1.3.0", True), (">= 1.2", "1.3.0", True),
    # wildcards
    ("1.2.x", "1.2.7", True), ("1.2.x", "1.3.0", False), ("1.X", "1.9.9", True), ("*", "9.9.9", True),
    ("1.*.*", "2.0.0", False),
    # tilde: patch-level changes (minor-level when only a major is given)
    ("~1.2.3", "1.2.9", True), ("~1.2.3", "1.3.0", False), ("~1.2.3", "1.2.2", False),
    ("~1.2", "1.2.0", True), ("~1", "1.9.0", True), ("~1", "2.0.0", False), ("~>1.2", "1.2.5", True),
    # caret: the left-most non-zero component is fixed
    ("^1.2.3", "1.9.9", True), ("^1.2.3", "2.0.0", False), ("^1.2", "1.2.0", True),
    ("^0.2.3", "0.2.9", True), ("^0.2.3", "0.3.0", False), ("^0.0.3", "0.0.3", True),
    ("^0.0.3", "0.0.4", False), ("^0", "0.9.0", True), ("^0", "1.0.0", False), ("^0.0", "0.0.9", True),
    ("^0.0", "0.1.0", False),
    # AND with commas or spaces, OR with ||, hyphen ranges
    (">=1.2, <2", "1.5.0", True), (">=1.2, <2", "2.0.0", False), (">=1.2 <2", "1.9.0", True),
    ("<1.0 || >=2.0", "0.5.0", True), ("<1.0 || >=2.0", "1.5.0", False), ("1.0 - 2.0", "2.0.9", True),
    ("1.0 - 2.0", "2.1.0", False), ("1.0.0 - 2.0.0", "2.0.1", False), ("1.0 - 2.0", "0.9.9", False),
    # pre-releases only match a comparator group that names one
    (">=1.0", "1.1.0-rc.1", False), (">=1.1.0-rc.0", "1.1.0-rc.1", True), ("<2.0.0-0", "1.9.9", True),
    (">=1.1.0-alpha", "1.1.0-beta", True), (">=1.1.0-beta", "1.1.0-alpha", False),
    (">=1.1.0-rc.2", "1.1.0-rc.10", True), (">1.1.0-rc.1", "1.1.0", True),
    # v prefixes and build metadata
    ("v1.2.3", "1.2.3", True), ("=1.2.3", "v1.2.3+build.7", True), (">=1.2", "v1.10.0", True),
]


@pytest.mark.parametrize("constraint,version,expected", CASES)
def test_satisfies(constraint: str, version: str, expected: bool) -> None:
    assert satisfies(constraint, version) is expected


@pytest.mark.parametrize("constraint,version,expected", CASES[::5])
def test_template_function(constraint: str, version: str, expected: bool) -> None:
    out = compile_template("{{ semverCompare .c .v }}").render({"c": constraint, "v": version})
    assert out == ("true" if expected else "false")


def test_version_ordering_follows_semver() -> None:
    ordered = ["1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-alpha.beta", "1.0.0-beta", "1.0.0-beta.2",
               "1.0.0-beta.11", "1.0.0-rc.1", "1.0.0", "1.0.1", "1.10.0", "2.0.0"]
    keys = [parse_version(v).key() for v in ordered]
    assert keys == sorted(keys)
    assert len(set(keys)) == len(keys)


@pytest.mark.parametrize("constraint,version,message", [
    (">=1.2", "banana", "invalid version <string of 6 characters>"),
    (">=1.2", "1.x", "invalid version <string of 3 characters>"),
    (">>1.2", "1.2.0", "invalid constraint"),
    (">=1.2 ||", "1.2.0", "empty range"),
    ("~banana", "1.2.0", "invalid version <string of 6 characters>"),
])
def test_malformed_input_is_an_eval_error(constraint: str, version: str, message: str) -> None:
    with pytest.raises(TemplateEvalError, match=message):
        compile_template("{{ semverCompare .c .v }}").render({"c": constraint, "v": version})


def test_nil_version_matches_nothing() -> None:
    assert compile_template('{{ semverCompare ">=0.0.0" .missing }}').render({}) == "false"
