"""The reconcile side of hooks: `args` as docs/katalog.md#hooks passes them."""
from types import SimpleNamespace

from orkestra.katalog.model import HookSpec
from orkestra.reconcile.reconciler import DeclarativeReconciler
from tests.unit.reconcile.factory import make_cr, make_entry, make_katalog


def reconciler_with_args(args: dict) -> DeclarativeReconciler:
    hooks = HookSpec(module="m", function="f", run_hooks_first=False, managed_resources=(), args=args, base_dir=".")
    entry = make_entry(hooks=hooks)
    # hook_args reads only the entry: a runtime with no client is enough
    return DeclarativeReconciler(entry, katalog=make_katalog(entry), runtime=SimpleNamespace(kube=None))


def test_hook_args_render_strings_and_pass_other_values_as_they_are():
    """Issue 9 item 18: an empty render removed the key, nested maps were rendered and emptied,
    and single-action strings turned into native numbers."""
    args = {"prefix": "{{ .spec.prefix }}", "replicas": "{{ .spec.replicas }}", "region": "eu",
            "blank": "", "count": 2, "nested": {"msg": "{{ .spec.missing }}", "n": [1, "{{ .x }}"]}}
    rec = reconciler_with_args(args)
    got = rec.hook_args(make_cr(spec={"replicas": 3, "prefix": ""}))
    assert got == {"prefix": "", "replicas": "3", "region": "eu", "blank": "", "count": 2,
                   "nested": {"msg": "{{ .spec.missing }}", "n": [1, "{{ .x }}"]}}
    got["nested"]["msg"] = "changed by a hook"
    assert rec.hook_args(make_cr())["nested"]["msg"] == "{{ .spec.missing }}"
