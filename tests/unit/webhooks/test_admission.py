"""/validate and /mutate through the Flask test client, with the real rule evaluator."""
from __future__ import annotations

import base64
import json

import pytest

from orkestra.webhooks.admission import CacheView
from orkestra.webhooks.app import WebhookState, create_webhook_app
from orkestra.webhooks.switches import WebhookSettings

from .katalogs import admission, load, obj, post

ON = WebhookSettings(enable_conversion=True, enable_admission=True)


@pytest.fixture
def katalog(tmp_path):
    return load(tmp_path)


def make(katalog, caches=None):
    lookup = None if caches is None else caches.get
    state = WebhookState.build(katalog, ON, cache_lookup=lookup)
    return create_webhook_app(katalog, state).test_client(), state


def answer(client, path, review):
    resp = post(client, path, review)
    assert resp.status_code == 200, resp.get_data(as_text=True)
    body = resp.get_json()
    assert body["apiVersion"] == "admission.k8s.io/v1" and body["kind"] == "AdmissionReview"
    assert body["response"]["uid"] == review["request"]["uid"]
    return body["response"]


def synced(*items):
    return {"service-app": CacheView(True, list(items))}


def test_deny_message_joins_violations_and_keeps_warnings(katalog):
    client, state = make(katalog, synced())
    bad = obj(image="nginx:1.27", replicas=30, hostname="a")
    r = answer(client, "/validate", admission("CREATE", bad))
    assert r["allowed"] is False
    assert r["status"] == {"code": 403, "reason": "Forbidden", "message":
                           '[orkestra] validation failed: field "spec.image": images must come from '
                           'registry.internal/ (got: "nginx:1.27"); field "spec.replicas": replicas cannot '
                           'exceed 20 (got: "30")'}
    assert r["warnings"] == ['orkestra: field "metadata.labels.team": declare a team owner label']
    assert state.stats.counters("admission:service-app") == {"validationTotal": 1, "validationDenied": 1}


def test_warn_rule_allows_with_warning_and_mutation_runs_first(katalog):
    client, state = make(katalog, synced())
    # replicas absent: the in-memory mutation defaults it to 2, so the max rule sees 2, not ""
    r = answer(client, "/validate", admission("CREATE", obj(image="registry.internal/web:1", hostname="h")))
    assert r["allowed"] is True
    assert r["warnings"] == ['orkestra: field "metadata.labels.team": declare a team owner label']
    assert state.stats.counters("admission:service-app")["validationWarned"] == 1


def test_clean_object_is_allowed_without_warnings(katalog):
    client, state = make(katalog, synced())
    good = obj(labels={"team": "web"}, image="registry.internal/web:1", replicas=3, hostname="h")
    r = answer(client, "/validate", admission("CREATE", good, dry_run=True))
    assert r == {"uid": "u-1", "allowed": True}
    c = state.stats.counters("admission:service-app")
    assert c["validationAllowed"] == 1 and c["validateDryRun"] == 1
    lat = state.stats.latency("validate:service-app")
    assert lat["avg"] is not None and lat["max"] >= lat["avg"]


def test_unique_uses_the_cache_and_ignores_the_object_itself(katalog):
    other = obj("other", hostname="taken")
    client, _ = make(katalog, synced(other))
    mine = obj("mine", labels={"team": "t"}, image="registry.internal/x", replicas=1, hostname="taken")
    r = answer(client, "/validate", admission("CREATE", mine))
    assert r["allowed"] is False and 'field "spec.hostname": hostname already used' in r["status"]["message"]
    # the same object updating itself does not collide with its own cached copy
    client, _ = make(katalog, synced(mine))
    assert answer(client, "/validate", admission("UPDATE", mine, mine))["allowed"] is True


def test_unique_is_skipped_with_a_warning_until_the_cache_synced(katalog):
    client, _ = make(katalog, {"service-app": CacheView(False, [])})
    mine = obj(labels={"team": "t"}, image="registry.internal/x", replicas=1, hostname="taken")
    r = answer(client, "/validate", admission("CREATE", mine))
    assert r["allowed"] is True
    assert r["warnings"] == ['orkestra: rule on "spec.hostname" could not be evaluated: unique check skipped '
                             'until the service-app cache has synced']


def test_delete_evaluates_the_old_object(katalog):
    client, _ = make(katalog, synced())
    old = obj(labels={"team": "t"}, image="docker.io/x", replicas=1)
    r = answer(client, "/validate", admission("DELETE", None, old))
    assert r["allowed"] is False and "images must come from" in r["status"]["message"]


def test_objects_being_deleted_bypass_every_rule(katalog):
    client, _ = make(katalog, synced())
    dying = obj(image="docker.io/x", replicas=99)
    dying["metadata"]["deletionTimestamp"] = "2026-03-01T12:00:00Z"
    assert answer(client, "/validate", admission("UPDATE", dying, dying)) == {"uid": "u-1", "allowed": True}
    assert answer(client, "/mutate", admission("UPDATE", dying, dying)) == {"uid": "u-1", "allowed": True}


def test_namespace_and_label_selector_decide_which_entries_match(katalog):
    client, state = make(katalog, synced())
    # team-app watches namespace team-a with owner=team: its rule applies only there
    in_team = obj("t", "team-a", labels={"owner": "team", "team": "x"}, image="registry.internal/a",
                  replicas=1)
    r = answer(client, "/validate", admission("CREATE", in_team))
    assert r["allowed"] is False and r["status"]["message"].endswith('field "spec.owner": team apps need an owner')
    elsewhere = obj("t", "team-b", labels={"owner": "team", "team": "x"}, image="registry.internal/a", replicas=1)
    assert answer(client, "/validate", admission("CREATE", elsewhere))["allowed"] is True
    assert state.stats.counters("admission:team-app") == {"validationTotal": 1, "validationDenied": 1}


def test_unmatched_kind_is_allowed_and_not_counted(katalog):
    client, state = make(katalog, synced())
    cm = obj(kind="ConfigMap", api_version="v1")
    assert answer(client, "/validate", admission("CREATE", cm)) == {"uid": "u-1", "allowed": True}
    assert state.stats.counters("admission:service-app") == {}


def test_mutate_returns_a_base64_json_patch(katalog):
    client, state = make(katalog)
    r = answer(client, "/mutate", admission("CREATE", obj(image="x")))
    assert r["allowed"] is True and r["patchType"] == "JSONPatch"
    patch = json.loads(base64.b64decode(r["patch"]))
    assert patch == [{"op": "add", "path": "/spec/replicas", "value": 2},
                     {"op": "add", "path": "/metadata/labels", "value": {"tier": "backend"}}]
    assert state.stats.counters("admission:service-app") == {"mutationTotal": 1, "mutationApplied": 1}


def test_mutate_without_changes_has_no_patch(katalog):
    client, state = make(katalog)
    done = obj(labels={"tier": "backend"}, replicas=3)
    assert answer(client, "/mutate", admission("UPDATE", done, done)) == {"uid": "u-1", "allowed": True}
    assert state.stats.counters("admission:service-app")["mutationSkipped"] == 1


def test_mutate_answers_delete_without_patch(katalog):
    client, _ = make(katalog)
    assert answer(client, "/mutate", admission("DELETE", None, obj())) == {"uid": "u-1", "allowed": True}


def test_mutation_errors_never_block(tmp_path):
    k = load(tmp_path, """
        apiVersion: orkestra.orkspace.io/v1
        kind: Katalog
        metadata: {name: m}
        spec:
          crds:
            app:
              apiTypes: {group: apps.example.io, version: v1, kind: ServiceApp, plural: serviceapps}
              mutation:
                rules:
                  - {field: spec.replicas, default: "{{ .spec.size }}", valueType: int}
        """)
    client, state = make(k)
    r = answer(client, "/mutate", admission("CREATE", obj(size="lots")))
    assert r["allowed"] is True and "patch" not in r
    assert len(r["warnings"]) == 1 and r["warnings"][0].startswith("orkestra: mutation skipped: ")
    assert state.stats.counters("admission:app") == {"mutationTotal": 1, "mutationSkipped": 1}


def test_paths_without_rules_are_not_registered(tmp_path):
    k = load(tmp_path, """
        apiVersion: orkestra.orkspace.io/v1
        kind: Katalog
        metadata: {name: v}
        spec:
          crds:
            app:
              apiTypes: {group: apps.example.io, version: v1, kind: ServiceApp, plural: serviceapps}
              validation: {rules: [{field: spec.a, exists: true}]}
              webhooks: {mutation: false}
        """)
    client, _ = make(k)
    assert post(client, "/mutate", admission("CREATE", obj())).status_code == 404
    assert post(client, "/convert", {}).status_code == 404
    assert post(client, "/validate", admission("CREATE", obj(a=1))).status_code == 200


def test_an_entry_is_evaluated_only_for_its_own_operations(katalog):
    # service-app registers DELETE; team-app (same kind) keeps the default [CREATE, UPDATE], so the
    # DELETE that service-app's webhook sends must not run team-app's rules (docs/katalog.md#admission-switches)
    client, state = make(katalog, synced())
    old = obj("t", "team-a", labels={"team": "t", "owner": "team"}, image="registry.internal/x", replicas=1)
    r = answer(client, "/validate", admission("DELETE", None, old))
    assert r == {"uid": "u-1", "allowed": True}
    assert state.stats.counters("admission:team-app") == {}
    r = answer(client, "/validate", admission("CREATE", old))
    assert r["allowed"] is False and "team apps need an owner" in r["status"]["message"]


def test_apps_in_one_process_keep_their_own_paths_and_state(katalog):
    # The views and the blueprint are module-level: each app must still route only its own
    # plan's paths and record into its own WebhookState, whatever order the apps were built in.
    full, full_state = make(katalog)
    bare_state = WebhookState.build(katalog, WebhookSettings())
    bare = create_webhook_app(katalog, bare_state).test_client()
    again, again_state = make(katalog)
    review = admission("CREATE", obj(image="docker.io/x"))
    assert post(bare, "/validate", review).status_code == 404
    assert post(full, "/validate", review).status_code == 200
    assert post(bare, "/mutate", review).status_code == 404
    assert full_state.stats.counters("admission:service-app") == {"validationTotal": 1, "validationDenied": 1}
    assert again_state.stats.counters("admission:service-app") == {}
    assert bare_state.stats.counters("admission:service-app") == {}
    assert post(again, "/validate", review).status_code == 200
    assert again_state.stats.counters("admission:service-app")["validationTotal"] == 1
    assert full_state.stats.counters("admission:service-app")["validationTotal"] == 1


def test_a_well_formed_review_skips_flask_routing_and_both_routes_answer_alike(katalog):
    """The fast path (a POST of application/json with a Content-Length to a served path) bypasses
    Flask's request handling; anything else takes the Flask route, with the same answer."""
    state = WebhookState.build(katalog, ON)
    app = create_webhook_app(katalog, state)
    routed: list[str] = []
    app.before_request(lambda: routed.append("flask") and None)
    client = app.test_client()
    review = json.dumps(admission("CREATE", obj(image="docker.io/x", replicas=50)))
    fast = client.post("/validate", data=review, content_type="application/json")
    assert routed == []
    slow = client.post("/validate", data=review, content_type="application/json; charset=utf-8")
    assert routed == ["flask"]
    assert fast.status_code == slow.status_code == 200
    assert fast.get_json() == slow.get_json() and fast.get_json()["response"]["allowed"] is False
    assert fast.headers["Content-Type"] == slow.headers["Content-Type"]
    bad = client.post("/validate", data="{", content_type="application/json")     # fast path, bad JSON
    assert bad.status_code == 400 and bad.get_json()["error"].startswith("invalid JSON") and routed == ["flask"]
