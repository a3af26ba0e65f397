"""Hook loading and call rules (katalog.md §16)."""
import pytest

from orkestra.hooks.loader import HookLoadError, HookSet, calls_for, load_hooks
from orkestra.katalog.hookcheck import hook_search_path
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
    hooks = load_hooks(spec(tmp_path, "hooks_once"), crd="website", env={})
    assert list(hooks.callbacks) == ["on_reconcile"]
    import hooks_once
    assert hooks_once.CALLS == [1]


def test_dict_factory_result(tmp_path):
    write(tmp_path, "hooks_dict", "def factory():\n    return {'on_create': print, 'on_delete': print}\n")
    hooks = load_hooks(spec(tmp_path, "hooks_dict"), crd="website", env={})
    assert set(hooks.callbacks) == {"on_create", "on_delete"} and hooks.has_on_delete


def test_ork_hooks_path_is_searched(tmp_path):
    other = tmp_path / "elsewhere"
    other.mkdir()
    write(other, "hooks_env", "def factory():\n    return {'on_reconcile': print}\n")
    hooks = load_hooks(spec(tmp_path, "hooks_env"), crd="website", env={"ORK_HOOKS_PATH": str(other)})
    assert "on_reconcile" in hooks.callbacks


def test_search_path_order(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert hook_search_path(str(tmp_path / "k"), {"ORK_HOOKS_PATH": "/a:/b"}) == [str(tmp_path / "k"), str(tmp_path), "/a", "/b"]


def test_import_failure_is_a_clear_error(tmp_path):
    with pytest.raises(HookLoadError, match=r'website: hooks no_such_mod:factory: cannot import module "no_such_mod"'):
        load_hooks(spec(tmp_path, "no_such_mod"), crd="website", env={})
    write(tmp_path, "hooks_broken", "raise RuntimeError('bad import')\n")
    with pytest.raises(HookLoadError, match="RuntimeError: bad import"):
        load_hooks(spec(tmp_path, "hooks_broken"), crd="website", env={})


def test_go_style_paths_missing_attribute_and_empty_factory(tmp_path):
    with pytest.raises(HookLoadError, match='hooks.module must be a Python module path like "pkg.mod"'):
        load_hooks(spec(tmp_path, "github.com/x/hooks"), crd="w", env={})
    write(tmp_path, "hooks_attr", "x = 1\ndef empty():\n    return object()\n")
    with pytest.raises(HookLoadError, match='has no attribute "factory"'):
        load_hooks(spec(tmp_path, "hooks_attr"), crd="w", env={})
    with pytest.raises(HookLoadError, match='"x" is not callable'):
        load_hooks(spec(tmp_path, "hooks_attr", "x"), crd="w", env={})
    with pytest.raises(HookLoadError, match="returned none of on_create"):
        load_hooks(spec(tmp_path, "hooks_attr", "empty"), crd="w", env={})


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
        load_hooks(spec(tmp_path, "hooks_exit"), crd="website", env={})
