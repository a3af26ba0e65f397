from __future__ import annotations

from tests.unit.katalog.conftest import messages

LEGACY = """\
apiVersion: orkestra.konductor.io/v1Alpha
kind: Katalog
metadata: {name: legacy}
anchors:
  img: &img nginx:1.27
spec:
  crds:
    - name: website
      apiTypes: {group: demo.io, version: v1, kind: Website, plural: websites}
      workers: 4
      resync: 30s
      queue: {maxQueueDepth: 50, degradeThreshold: 7}
      validation:
        - {field: spec.image, exists: true, message: image is required}
      reconciler:
        default: true
        finalizers: [demo.io/cleanup]
        mutateFirst: true
        mutation:
          - {field: spec.replicas, default: 2}
        hooks: {location: legacyhooks, function: make}
        status: {fields: [{path: phase, value: Ready}]}
        onReconcile:
          deployments:
            - image: *img
              labels: [{key: tier, value: web}]
              or: [{field: spec.a, exists: true}]
"""


def test_every_legacy_form_is_normalised_with_one_warning_each(write, tmp_path):
    (tmp_path / "legacyhooks.py").write_text("def make():\n    def on_reconcile(ctx, obj):\n        pass\n    return {'on_reconcile': on_reconcile}\n")
    from orkestra.katalog.loader import load_report
    report = load_report([write(LEGACY)])
    assert report.ok, [str(e) for e in report.errors]
    k = report.katalog
    c = k.canonical
    assert c["apiVersion"] == "orkestra.orkspace.io/v1"
    assert "anchors" not in c
    entry = c["spec"]["crds"]["website"]
    assert "reconciler" not in entry and "workers" not in entry and "queue" not in entry
    box = entry["operatorBox"]
    assert box["reconciler"]["workers"] == 4 and box["reconciler"]["resync"] == "30s"
    assert box["reconciler"]["queue"] == {"maxDepth": 50, "failureThreshold": 7}
    assert box["reconciler"]["hooks"] == {"module": "legacyhooks", "function": "make"}
    assert box["finalizers"] == ["demo.io/cleanup"]
    assert box["status"] == {"fields": [{"path": "phase", "value": "Ready"}]}
    dep = box["onReconcile"]["deployments"][0]
    assert dep["labels"] == {"tier": "web"} and "anyOf" in dep and "or" not in dep
    assert entry["validation"] == {"rules": [{"field": "spec.image", "exists": True, "message": "image is required"}]}
    assert entry["mutation"] == {"rules": [{"field": "spec.replicas", "default": 2}], "mutateFirst": True}
    model = k.crds["website"]
    assert model.box_spec.queue.max_depth == 50 and model.box_spec.queue.failure_threshold == 7
    assert model.box_spec.workers_source == "configured"
    warned = " | ".join(str(w) for w in report.warnings)
    for construct in ("konductor", "spec.crds", "reconciler", "workers", "resync", "queue", "validation",
                      "mutation", "location", "labels", "anyOf"):
        assert construct in warned, construct
    assert len(report.warnings) == 11


def test_legacy_warnings_point_at_the_written_line(write):
    from orkestra.katalog.loader import load_report
    path = write("apiVersion: orkestra.orkspace.io/v1\nkind: Katalog\nmetadata: {name: x}\nspec:\n  crds:\n"
                 "    a:\n      apiTypes: {kind: ConfigMap}\n      labelSelector: {x: y}\n      workers: 2\n")
    report = load_report([path])
    assert report.ok
    (warning,) = report.warnings
    assert (warning.line, warning.crd) == (9, "a")


def test_workers_zero_means_default(report):
    r = report("""\
        spec:
          crds:
            a:
              apiTypes: {kind: ConfigMap}
              labelSelector: {x: y}
              workers: 0
        """, env={"DEFAULT_WORKERS": "7"})
    assert r.ok
    assert r.katalog.crds["a"].box_spec.workers == 7
    assert r.katalog.crds["a"].box_spec.workers_source == "default"


def test_legacy_and_canonical_together_is_an_error(report):
    r = report("""\
        spec:
          crds:
            a:
              apiTypes: {kind: ConfigMap}
              workers: 2
              operatorBox: {reconciler: {workers: 3}}
        """)
    assert "spec.crds.a: both workers and operatorBox.reconciler.workers are set" in messages(r.errors)
    r = report("""\
        spec:
          crds:
            a:
              apiTypes: {kind: ConfigMap}
              reconciler: {onCreate: {}}
              operatorBox: {onCreate: {}}
        """)
    assert "spec.crds.a: both reconciler.onCreate and operatorBox.onCreate are set" in messages(r.errors)


def test_duplicate_and_missing_names_in_the_list_form(report):
    r = report("""\
        spec:
          crds:
            - name: a
              apiTypes: {kind: ConfigMap}
            - name: a
              apiTypes: {kind: Secret}
            - apiTypes: {kind: Secret}
        """)
    got = messages(r.errors)
    assert 'spec.crds[1]: duplicate CRD name "a"' in got
    assert "spec.crds[2]: name is required in the list form of spec.crds" in got


def test_sources_is_renamed_to_imports(write):
    from orkestra.katalog.loader import load_report
    write(HEAD_K + "spec:\n  crds:\n    a: {apiTypes: {kind: ConfigMap}, labelSelector: {x: y}}\n", "a.yaml")
    path = write("apiVersion: orkestra.orkspace.io/v1\nkind: Komposer\nmetadata: {name: k}\n"
                 "sources: {files: [a.yaml]}\nspec: {crds: {}}\n", "komposer.yaml")
    r = load_report([path])
    assert r.ok, [str(e) for e in r.errors]
    assert list(r.katalog.crds) == ["a"]
    assert any("sources" in str(w) for w in r.warnings)


HEAD_K = "apiVersion: orkestra.orkspace.io/v1\nkind: Katalog\nmetadata: {name: imported}\n"


def test_alias_and_canonical_together_is_one_error_not_also_an_unknown_field(report):
    r = report("""\
        spec:
          crds:
            a:
              apiTypes: {group: a.io, version: v1, kind: W, plural: ws}
              operatorBox:
                reconciler: {hooks: {location: os, module: os, function: getcwd}}
                onCreate: {configMaps: [{name: x, data: {}, or: [], anyOf: []}]}
        """)
    assert messages(r.errors) == [
        "spec.crds.a.operatorBox.reconciler.hooks: both location and module are set",
        "spec.crds.a.operatorBox.onCreate.configMaps[0]: both or and anyOf are set",
    ]
    r = report("""\
        apiVersion: orkestra.orkspace.io/v1
        kind: Komposer
        metadata: {name: k}
        sources: {files: []}
        imports: {files: []}
        spec: {crds: {}}
        """, head=False)
    assert messages(r.errors) == ["both sources and imports are set"]
