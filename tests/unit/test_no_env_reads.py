"""Only orkestra/config.py reads the process environment (issue 10 item 4).

Every other module receives the values it needs as arguments (a `Settings`, a `CliSettings`, a
`LoadInputs`, a plain string), so a variable is parsed in one place, with one default and one
error message, and a test can hand any module any value without touching `os.environ`.

Every `.py` file under orkestra/ is parsed with `ast` (the starter packs' example hooks, package
data copied out by `ork init`, are skipped as in tests/unit/test_layers.py). A read is any use of
`os.environ` or `os.environb` (`.get`, `[...]`, `in`, `dict(...)`, `.update`: writing counts
too, since a later read would see it), `os.getenv(b)`, `os.putenv`, `os.unsetenv`, those names
imported from `os` under any name or fetched with `getattr(os, "...")`, the same names on
`posix` (what `os` re-exports), and `os.path.expandvars` (it substitutes `$VAR`s).
"""
from __future__ import annotations

import ast

from tests.unit.test_layers import PACKAGE, is_pack_data

ALLOWED = "orkestra/config.py"

# Modules that read the environment on purpose, each with the reason.
EXCEPTIONS: dict[str, str] = {
    "orkestra/controlcenter/settings.py":
        "`ork control` is a program of its own (docs/control-center.md): its ADMIN_*, SESSION_* "
        "variables are parsed by its own settings module, which sits below config in the layers "
        "and shares no variable with Settings (LOG_LEVEL/LOG_FORMAT come from CliSettings)",
    "orkestra/testing/paths.py":
        "the local control plane's cache directory ($XDG_CACHE_HOME), for `ork local` and the "
        "test harness; no Orkestra setting",
    "orkestra/testing/build.py":
        "builds the environment of the `go build` / `helm` subprocesses from the caller's",
    "orkestra/kube/kubeconfig.py":
        "a kubeconfig's exec credential plugin runs with the process's environment plus its own "
        "`env` entries, as kubectl runs it; the loader itself reads no variable",
}

_OS_NAMES = ("environ", "environb", "getenv", "getenvb", "putenv", "unsetenv")


def env_reads(source: str) -> list[int]:
    """Line numbers of every environment access in `source`."""
    tree = ast.parse(source)
    os_aliases = {"os", "posix"}
    bare: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            os_aliases |= {a.asname or a.name for a in node.names if a.name in ("os", "posix")}
        elif isinstance(node, ast.ImportFrom) and node.module in ("os", "posix"):
            bare |= {a.asname or a.name for a in node.names if a.name in _OS_NAMES}
    lines = []
    for node in ast.walk(tree):
        if (isinstance(node, ast.Attribute) and node.attr in _OS_NAMES
                and isinstance(node.value, ast.Name) and node.value.id in os_aliases):
            lines.append(node.lineno)
        elif isinstance(node, ast.Name) and node.id in bare:
            lines.append(node.lineno)
        elif isinstance(node, ast.ImportFrom) and node.module in ("os", "posix") and \
                any(a.name in _OS_NAMES for a in node.names):
            lines.append(node.lineno)
        elif isinstance(node, ast.Attribute) and node.attr == "expandvars":
            lines.append(node.lineno)
        elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "getattr"
              and len(node.args) >= 2 and isinstance(node.args[0], ast.Name) and node.args[0].id in os_aliases
              and isinstance(node.args[1], ast.Constant) and node.args[1].value in _OS_NAMES):
            lines.append(node.lineno)
    return sorted(set(lines))


def reads_by_file() -> dict[str, list[int]]:
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        if is_pack_data(path, PACKAGE):
            continue
        lines = env_reads(path.read_text())
        if lines:
            found[str(path.relative_to(PACKAGE.parent))] = lines
    return found


def test_only_config_reads_the_environment():
    found = reads_by_file()
    assert ALLOWED in found, "the walk found no read in config.py: is the checker still working?"
    others = [f"{name} (lines {', '.join(map(str, lines))})" for name, lines in found.items()
              if name != ALLOWED and name not in EXCEPTIONS]
    assert others == [], ("read the environment in orkestra/config.py and pass the value down:\n"
                          + "\n".join(others))


def test_every_exception_still_reads_the_environment():
    """An exception whose module no longer reads the environment leaves the list."""
    found = reads_by_file()
    stale = sorted(name for name in EXCEPTIONS if name not in found)
    assert stale == [], "remove from EXCEPTIONS: " + ", ".join(stale)


def test_the_checker_sees_every_form():
    source = (
        "import os\n"
        "import os as system\n"
        "from os import environ\n"
        "from os import getenv as ge\n"
        "a = os.environ.get('X')\n"
        "b = system.environ['Y']\n"
        "c = 'Z' in environ\n"
        "d = ge('W')\n"
        "os.environ['V'] = '1'\n"
        "e = os.getenv('U')\n"
        "f = os.path.join('a', 'environ')\n"
        "g = settings.environ\n"
        "h = os.environb[b'T']\n"
        "i = getattr(os, 'environ')\n"
        "j = os.path.expandvars('$S')\n"
        "import posix\n"
        "k = posix.environ\n"
        "l = getattr(os, 'sep')\n"
    )
    assert env_reads(source) == [3, 4, 5, 6, 7, 8, 9, 10, 13, 14, 15, 17]


def test_the_checker_ignores_what_only_looks_alike():
    source = (
        "import os\n"
        "env = {'environ': 1}\n"
        "x = env.get('environ')\n"
        "def f(environ):\n"
        "    return environ\n"
        "y = obj.os.environ\n"
    )
    assert env_reads(source) == []
