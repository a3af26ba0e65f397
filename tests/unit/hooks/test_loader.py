"""Hook loading and call rules (docs/katalog.md#hooks)."""
import sys

import pytest

from orkestra.config import katalog_inputs
from orkestra.hooks.loader import HookLoadError, HookSet, calls_for, load_hooks
from orkestra.katalog.hookcheck import hook_search_path, locate_hook
from orkestra.katalog.model import HookSpec


def spec(tmp_path, module="my_hooks", function="factory", **kw) -> HookSpec:
    return HookSpec(module=module, function=function, run_hooks_first=kw.get("first", False),
                    managed_resources=(), args={}, base_dir=str(tmp_path))


def write(tmp_path, name: str, text: str) -> None:
    (tmp_path / f"{name}.py").write_text(text)


def test_loads_from_the_katalog_directory_and_calls_the_factory_once(tmp_path):
    write(tmp_path, "hooks_once", "CALLS = []\n"
          "class H:\n    def on_reconcile(self, ctx, obj):\n        return None\n"
          "def factory():\n    CALLS.append(1)\n    return H()\n")
    hooks = load_hooks(spec(tmp_path, "hooks_once"), crd="website")
    assert list(hooks.callbacks) == ["on_reconcile"]
    module = sys.modules[type(hooks.callbacks["on_reconcile"].__self__).__module__]
    assert module.CALLS == [1] and module.__file__ == str(tmp_path / "hooks_once.py")


def test_dict_factory_result(tmp_path):
    write(tmp_path, "hooks_dict", "def factory():\n    return {'on_create': print, 'on_delete': print}\n")
    hooks = load_hooks(spec(tmp_path, "hooks_dict"), crd="website")
    assert set(hooks.callbacks) == {"on_create", "on_delete"} and hooks.has_on_delete


def test_ork_hooks_path_is_searched(tmp_path):
    other = tmp_path / "elsewhere"
    other.mkdir()
    write(other, "hooks_env", "def factory():\n    return {'on_reconcile': print}\n")
    hooks = load_hooks(spec(tmp_path, "hooks_env"), crd="website", hooks_path=[str(other)])
    assert "on_reconcile" in hooks.callbacks


def test_search_path_order(tmp_path, monkeypatch):
    """Issue 16 item 8: the current directory is no longer searched second (see the test below)."""
    monkeypatch.chdir(tmp_path)
    hooks_path = katalog_inputs({"ORK_HOOKS_PATH": "/a:/b"}).hooks_path
    assert hook_search_path(str(tmp_path / "k"), hooks_path) == [str(tmp_path / "k"), "/a", "/b"]


def test_the_current_directory_comes_after_ork_hooks_path_and_installed_packages(tmp_path, monkeypatch):
    """Issue 16 item 8: a stray hooks file in the working directory used to win over
    ORK_HOOKS_PATH and over installed packages; now it is only the last resort."""
    katalog_dir, trusted, cwd = (tmp_path / d for d in ("katalog", "trusted", "cwd"))
    for d in (katalog_dir, trusted, cwd):
        d.mkdir()
    write(trusted, "hooks_shadow", "def factory():\n    return {'on_reconcile': print}\n")
    write(cwd, "hooks_shadow", "raise RuntimeError('the working directory copy ran')\n")
    write(cwd, "json", "raise RuntimeError('the working directory json ran')\n")
    write(cwd, "hooks_cwd_only", "def factory():\n    return {'on_create': print}\n")
    monkeypatch.chdir(cwd)
    monkeypatch.syspath_prepend(str(cwd))          # also when the cwd is on sys.path (python -m, pytest)
    hooks_path = [str(trusted)]   # ORK_HOOKS_PATH
    assert "on_reconcile" in load_hooks(spec(katalog_dir, "hooks_shadow"), crd="w", hooks_path=hooks_path).callbacks
    assert locate_hook("json", base_dir=str(katalog_dir), hooks_path=hooks_path).directory is None   # the installed one
    assert "on_create" in load_hooks(spec(katalog_dir, "hooks_cwd_only"), crd="w", hooks_path=hooks_path).callbacks


def test_two_katalogs_shipping_the_same_module_name_each_run_their_own(tmp_path):
    """Issue 9 item 7: the second CRD got the first one's module out of sys.modules."""
    for name in ("postgres", "redis"):
        (tmp_path / name / "pkg").mkdir(parents=True)
        write(tmp_path / name, "hooks_shared", f"def factory():\n    return {{'on_reconcile': lambda c, o: '{name}'}}\n")
        write(tmp_path / name / "pkg", "__init__", "")
        write(tmp_path / name / "pkg", "impl", f"from . import helper\ndef factory():\n"
              f"    return {{'on_create': lambda c, o: helper.NAME}}\n")
        write(tmp_path / name / "pkg", "helper", f"NAME = '{name}'\n")
    postgres = load_hooks(spec(tmp_path / "postgres", "hooks_shared"), crd="postgres")
    redis = load_hooks(spec(tmp_path / "redis", "hooks_shared"), crd="redis")
    assert postgres.callbacks["on_reconcile"](None, {}) == "postgres"
    assert redis.callbacks["on_reconcile"](None, {}) == "redis"
    postgres = load_hooks(spec(tmp_path / "postgres", "pkg.impl"), crd="postgres")
    redis = load_hooks(spec(tmp_path / "redis", "pkg.impl"), crd="redis")
    assert (postgres.callbacks["on_create"](None, {}), redis.callbacks["on_create"](None, {})) == ("postgres", "redis")
    again = load_hooks(spec(tmp_path / "redis", "hooks_shared"), crd="redis-two")
    assert again.callbacks["on_reconcile"](None, {}) == "redis"


def test_import_failure_is_a_clear_error(tmp_path):
    with pytest.raises(HookLoadError, match=r'website: hooks no_such_mod:factory: cannot import module "no_such_mod"'):
        load_hooks(spec(tmp_path, "no_such_mod"), crd="website")
    write(tmp_path, "hooks_broken", "raise RuntimeError('bad import')\n")
    with pytest.raises(HookLoadError, match="RuntimeError: bad import"):
        load_hooks(spec(tmp_path, "hooks_broken"), crd="website")


def test_go_style_paths_missing_attribute_and_empty_factory(tmp_path):
    with pytest.raises(HookLoadError, match='hooks.module must be a Python module path like "pkg.mod"'):
        load_hooks(spec(tmp_path, "github.com/x/hooks"), crd="w")
    write(tmp_path, "hooks_attr", "x = 1\ndef empty():\n    return object()\n")
    with pytest.raises(HookLoadError, match='has no attribute "factory"'):
        load_hooks(spec(tmp_path, "hooks_attr"), crd="w")
    with pytest.raises(HookLoadError, match='"x" is not callable'):
        load_hooks(spec(tmp_path, "hooks_attr", "x"), crd="w")
    with pytest.raises(HookLoadError, match="returned none of on_create"):
        load_hooks(spec(tmp_path, "hooks_attr", "empty"), crd="w")


def test_call_rules():
    every = HookSet("m:f", False, {n: print for n in ("on_create", "on_update", "on_reconcile", "on_delete")})
    assert calls_for(every, reconciled_before=False, generation_newer=True) == ["on_create", "on_reconcile"]
    assert calls_for(every, reconciled_before=True, generation_newer=True) == ["on_update", "on_reconcile"]
    assert calls_for(every, reconciled_before=True, generation_newer=False) == ["on_reconcile"]
    only_update = HookSet("m:f", False, {"on_update": print})
    assert calls_for(only_update, reconciled_before=False, generation_newer=True) == []


def test_a_factory_calling_sys_exit_is_a_load_error_not_a_dead_thread(tmp_path):
    """Issue 9 item 17: SystemExit from the factory used to escape and end the activator thread."""
    write(tmp_path, "hooks_exit", "import sys\ndef factory():\n    sys.exit(3)\n")
    with pytest.raises(HookLoadError, match=r"website: hooks hooks_exit:factory: the factory raised SystemExit: 3"):
        load_hooks(spec(tmp_path, "hooks_exit"), crd="website")


def test_installed_modules_are_found_without_importing_them(tmp_path):
    """Installed packages are located with the finders (a submodule of a package statically; a
    name that only exists once its parent module ran, like os.path, is found but not inspected)."""
    assert locate_hook("email.utils", base_dir=str(tmp_path)).origin.endswith("email/utils.py")
    assert locate_hook("email.no_such_module", base_dir=str(tmp_path)) is None
    os_path = locate_hook("os.path", base_dir=str(tmp_path))
    assert os_path.directory is None and os_path.origin is None and os_path.import_name == "os.path"


def test_an_async_callback_is_a_load_error_instead_of_a_hook_that_never_runs(tmp_path):
    """Second reading of docs/katalog.md#hooks: callbacks are called synchronously and must return None.
    An `async def` callback only returned an un-awaited coroutine, so its body never ran while
    every reconcile reported success."""
    write(tmp_path, "hooks_async", "class H:\n    async def on_reconcile(self, ctx, obj):\n        ctx.apply({})\n"
          "def factory():\n    return H()\n")
    with pytest.raises(HookLoadError, match=r"website: hooks hooks_async:factory: on_reconcile is an async "
                                            r"function; hook callbacks are plain functions"):
        load_hooks(spec(tmp_path, "hooks_async"), crd="website")
