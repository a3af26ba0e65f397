"""Skipping the reconcile of a CR whose inputs did not change (`orkestra.reconcile.resync`, issue 15).

A skipped reconcile renders nothing: the tests count `render_entry` calls. Each disqualifier gets
an entry whose reconciles are otherwise quiet, so only the disqualifier keeps them full."""
from __future__ import annotations

import pytest

from orkestra.katalog.model import HookSpec
from orkestra.reconcile import reconciler as reconciler_module
from orkestra.reconcile import resync
from orkestra.reconcile.errors import ApplyFailed
from orkestra.template import functions as template_functions
from tests.unit.reconcile.factory import make_cr, make_entry
from tests.unit.reconcile.test_reconciler import CONFIGMAPS, NOW, SECRETS, SERVICES, WEBSITES, Setup

CONFIG = {"name": "{{ .metadata.name }}-config", "data": {"host": "{{ .spec.host }}"}}
PURE = {"onReconcile": {"configMaps": [CONFIG], "services": [{"port": 80}]}}
STATUS = {"conditions": True, "fields": [{"path": "config", "value": "{{ .children.configmap.metadata.name }}"}]}


@pytest.fixture
def renders(monkeypatch) -> list[str]:
    """The template ids rendered, in order, by every reconciler."""
    seen: list[str] = []
    real = reconciler_module.render_entry

    def counting(tpl, *args, **kwargs):
        seen.append(tpl.id)
        return real(tpl, *args, **kwargs)

    monkeypatch.setattr(reconciler_module, "render_entry", counting)
    monkeypatch.setattr(template_functions, "CLOCK", lambda: NOW)
    return seen


def settled(**entry_kw) -> Setup:
    """A CR reconciled until nothing changes, with child informers on the kinds the tests write."""
    s = Setup(**entry_kw)
    s.runtime.child_informer_gvrs = lambda: [CONFIGMAPS, SERVICES, SECRETS]     # type: ignore[method-assign]
    s.create(spec={"host": "a.example.com"})
    s.settle(times=4)
    return s


def test_an_unchanged_pure_entry_is_not_rendered_again_on_resync(renders):
    s = settled(templates=PURE, status=STATUS)
    assert len(s.rec.resync_memo) == 1
    renders.clear()
    s.api.clear_calls()
    for _ in range(3):
        assert s.reconcile().requeue_after is None
    assert renders == []
    assert s.api.calls == []


def test_a_reconcile_that_wrote_something_is_not_remembered(renders):
    s = Setup(templates=PURE)
    s.runtime.child_informer_gvrs = lambda: [CONFIGMAPS, SERVICES]     # type: ignore[method-assign]
    s.create()
    s.reconcile()            # created the children, the finalizer record and the status
    assert len(s.rec.resync_memo) == 0


NOW_TEXT = {"name": "{{ .metadata.name }}-config", "data": {"age": "{{ timeSince \"2026-01-01T00:00:00Z\" }}"}}
ALWAYS_DAY = {"dayOfWeek": {"in": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]}}
ALWAYS_CRON = {"cron": "* * * * *", "duration": "2m"}
DISQUALIFIED = {
    "clock template function": {"templates": {"onReconcile": {"configMaps": [NOW_TEXT]}}},
    "random template function": {"templates": {"onCreate": {"configMaps": [
        {"name": "{{ .metadata.name }}-pw", "once": True, "data": {"pw": "{{ randomHex 8 }}"}}]}}},
    "uuid template function": {"templates": {"onCreate": {"configMaps": [
        {"name": "{{ .metadata.name }}-id", "once": True, "data": {"id": "{{ uuidv4 }}"}}]}}},
    "clock in a status field": {"templates": PURE, "status": {"conditions": True, "fields": [
        {"path": "age", "value": "{{ timeSince \"2026-01-01T00:00:00Z\" }}"}]}},
    "clock in the CR labels": {"templates": PURE, "labels": {"age": "{{ timeSince \"2026-01-01T00:00:00Z\" }}"}},
    "time window": {"templates": {"onReconcile": {"configMaps": [
        {**CONFIG, "when": [{"time": {"after": "00:00", "before": "23:59"}}]}]}}},
    "day-of-week window": {"templates": {"onReconcile": {"configMaps": [{**CONFIG, "when": [ALWAYS_DAY]}]}}},
    "cron window": {"templates": {"onReconcile": {"configMaps": [{**CONFIG, "when": [ALWAYS_CRON]}]}}},
    "unique rule": {"templates": PURE, "validation": {"rules": [
        {"field": "spec.host", "unique": True, "message": "host taken"}]}},
    "unique operator": {"templates": PURE, "validation": {"rules": [
        {"field": "spec.host", "operator": "unique", "message": "host taken"}]}},
    "copy-form secret (read from the API)": {"templates": {"onReconcile": {"secrets": [{"fromSecret": "creds"}]}}},
    "custom entry with a templated kind": {"templates": {"onReconcile": {"custom": [
        {"apiVersion": "v1", "kind": "{{ \"ConfigMap\" }}", "name": "{{ .metadata.name }}-raw"}]}}},
}


@pytest.mark.parametrize("entry_kw", DISQUALIFIED.values(), ids=DISQUALIFIED.keys())
def test_an_entry_reading_what_changes_without_an_event_is_always_reconciled_in_full(renders, entry_kw):
    assert not resync.skippable(make_entry(**entry_kw), has_hooks=False)
    s = Setup(**entry_kw)
    s.runtime.child_informer_gvrs = lambda: [CONFIGMAPS, SERVICES, SECRETS]     # type: ignore[method-assign]
    s.api.seed(SECRETS, {"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
                         "metadata": {"name": "creds", "namespace": "default"}, "data": {"k": "dg=="}})
    s.create(spec={"host": "a.example.com"})
    s.settle(times=4)
    renders.clear()
    s.reconcile()
    assert renders != []
    assert len(s.rec.resync_memo) == 0


def test_an_entry_with_hooks_is_never_skipped():
    hooks = HookSpec(module="hooks", function="factory", run_hooks_first=False, managed_resources=(), args={},
                     base_dir="")
    assert resync.skippable(make_entry(templates=PURE), has_hooks=False)
    assert not resync.skippable(make_entry(templates=PURE, hooks=hooks), has_hooks=False)
    assert not resync.skippable(make_entry(templates=PURE), has_hooks=True)


def test_a_custom_entry_of_a_fixed_built_in_kind_is_skippable_and_of_another_kind_is_not():
    def custom(api_version: str, kind: str):
        return make_entry(templates={"onReconcile": {"custom": [{"apiVersion": api_version, "kind": kind}]}})
    assert resync.skippable(custom("v1", "Service"), has_hooks=False)
    assert resync.skippable(custom("apps/v1", "Deployment"), has_hooks=False)
    assert not resync.skippable(custom("demo.orkestra.io/v1alpha1", "Website"), has_hooks=False)
    assert not resync.skippable(custom("v2", "Service"), has_hooks=False)


def test_a_hand_edited_child_forces_a_full_reconcile_that_reverts_it(renders):
    s = settled(templates=PURE, status=STATUS)
    s.api.patch(CONFIGMAPS, "site-config", {"data": {"host": "edited"}}, "default")
    renders.clear()
    s.reconcile()
    assert renders != []
    assert s.api.object(CONFIGMAPS, "site-config", "default")["data"] == {"host": "a.example.com"}


def test_a_child_read_from_the_api_server_keeps_every_reconcile_full(renders):
    """A child the caches do not hold (in a namespace no child informer watches, or while its
    informer syncs) is read live on each reconcile: its drift changes no input, so such a
    reconcile is never remembered and a hand edit is still reverted at the next resync."""
    s = settled(templates=PURE, status=STATUS)
    cached_children = s.runtime.children
    s.runtime.children = lambda uid: [o for o in cached_children(uid)      # type: ignore[method-assign]
                                      if o["kind"] != "ConfigMap"]
    s.reconcile()
    assert len(s.rec.resync_memo) == 0
    s.api.patch(CONFIGMAPS, "site-config", {"data": {"host": "edited"}}, "default")
    renders.clear()
    s.reconcile()
    assert renders != []
    assert s.api.object(CONFIGMAPS, "site-config", "default")["data"] == {"host": "a.example.com"}


def test_a_deleted_child_forces_a_full_reconcile_that_recreates_it(renders):
    s = settled(templates=PURE, status=STATUS)
    s.api.delete(CONFIGMAPS, "site-config", "default")
    renders.clear()
    s.reconcile()
    assert renders != []
    assert s.api.object(CONFIGMAPS, "site-config", "default") is not None


def test_a_new_cr_version_forces_a_full_reconcile(renders):
    s = settled(templates=PURE, status=STATUS)
    s.api.patch(WEBSITES, "site", {"spec": {"host": "b.example.com"}}, "default")
    renders.clear()
    s.reconcile()
    assert renders != []
    assert s.api.object(CONFIGMAPS, "site-config", "default")["data"] == {"host": "b.example.com"}


def test_a_failed_reconcile_drops_the_memo_and_the_next_one_is_full(renders):
    s = settled(templates=PURE, status=STATUS)
    s.api.patch(CONFIGMAPS, "site-config", {"data": {"host": "edited"}}, "default")
    s.api.fail("apply", CONFIGMAPS, status=500, message="boom", times=5)
    with pytest.raises(ApplyFailed):
        s.reconcile()
    assert len(s.rec.resync_memo) == 0
    renders.clear()
    with pytest.raises(ApplyFailed):
        s.reconcile()
    assert renders != []


def test_forget_drops_the_memo(renders):
    s = settled(templates=PURE, status=STATUS)
    assert len(s.rec.resync_memo) == 1
    s.rec.forget("default/site")
    assert len(s.rec.resync_memo) == 0
    renders.clear()
    s.reconcile()
    assert renders != []


@pytest.mark.parametrize("meta", [{"resourceVersion": ""}, {"deletionTimestamp": "2026-01-01T00:00:00Z"},
                                  {"annotations": {"orkestra.io/child-resources": "apps/v1/deployments"}}],
                         ids=["no version", "being deleted", "records an uninformed kind"])
def test_inputs_are_unknown_when_a_reconcile_may_read_beyond_the_caches(meta):
    cr = make_cr()
    cr["metadata"].update(meta)
    assert resync.inputs_of(cr, [], [CONFIGMAPS]) is None


def test_a_child_without_a_version_makes_the_inputs_unknown():
    child = {"metadata": {"uid": "c1"}}
    assert resync.inputs_of(make_cr(), [child], [CONFIGMAPS]) is None


def test_the_memo_keeps_at_most_its_limit_of_keys():
    memo = resync.ResyncMemo(limit=2)
    inputs = resync.Inputs("1", frozenset(), ())
    for key in ("a", "b", "c"):
        memo.remember(key, inputs)
    assert len(memo) == 2
    assert not memo.unchanged("a", inputs) and memo.unchanged("c", inputs)
