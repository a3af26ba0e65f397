"""The engine takes what it needs of the environment from its Settings (issue 10 item 4): the
hook search path reaches the hook loader from `Settings.katalog`, not from `os.environ`."""
from __future__ import annotations

from orkestra.config import Settings
from orkestra.engine.engine import Engine
from orkestra.katalog.loader import load_katalog

KATALOG = """\
apiVersion: orkestra.orkspace.io/v1
kind: Katalog
metadata: {name: test}
spec:
  crds:
    w:
      apiTypes: {group: demo.io, version: v1, kind: Website, plural: websites}
      operatorBox: {reconciler: {hooks: {module: settings_hooks_mod, function: Hooks}}}
"""


def test_hooks_are_found_on_the_settings_hook_path(tmp_path, monkeypatch):
    extra = tmp_path / "elsewhere"
    extra.mkdir()
    (extra / "settings_hooks_mod.py").write_text("class Hooks:\n    def on_reconcile(self, ctx, obj): pass\n")
    (tmp_path / "katalog.yaml").write_text(KATALOG)
    monkeypatch.delenv("ORK_HOOKS_PATH", raising=False)   # the environment does not name it
    settings = Settings.from_env({"ORK_HOOKS_PATH": str(extra), "POD_NAME": "pod-a"})
    katalog = load_katalog([str(tmp_path / "katalog.yaml")], settings.katalog)
    engine = Engine(katalog, settings)
    box = type("Box", (), {"kube": None, "discovery": None, "recorder": None, "identity": "pod-a",
                           "katalog": katalog})()      # the reconciler only keeps these until it runs
    reconciler = engine.make_reconciler(katalog.crds["w"], box)
    assert list(reconciler.hooks.callbacks) == ["on_reconcile"]
