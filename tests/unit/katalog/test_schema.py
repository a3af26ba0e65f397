from __future__ import annotations

from tests.unit.katalog.conftest import messages


def test_unknown_field_has_line_column_path_and_suggestion(report):
    r = report("""\
        spec:
          crds:
            website:
              apiTypes: {group: demo.io, version: v1, kind: Website, plural: websites}
              operatorBox:
                onCreat: {}
        """)
    (err,) = r.errors
    assert str(err) == err.file + ':9:9: unknown field "spec.crds.website.operatorBox.onCreat" (did you mean "onCreate"?)'
    assert err.crd == "website"


def test_no_suggestion_when_nothing_is_close(report):
    r = report("""\
        spec:
          crds:
            website:
              apiTypes: {group: demo.io, version: v1, kind: Website, plural: websites}
              zzzzzz: 1
        """)
    assert messages(r.errors) == ['unknown field "spec.crds.website.zzzzzz"']


def test_deferred_keys_and_types(report):
    r = report("""\
        profiles: {}
        spec:
          crds:
            website:
              apiTypes: {group: demo.io, version: v1, kind: Website, plural: websites, location: x}
              operatorBox:
                autoscale: {min: 1}
                onCreate:
                  hpa: []
                reconciler: {constructor: x, queue: {shared: true}}
        """)
    got = messages(r.errors)
    assert '"profiles" is not supported in this version' in got
    assert 'spec.crds.website.operatorBox: "autoscale" is not supported in this version' in got
    assert 'spec.crds.website.operatorBox.onCreate: "hpa" is not supported in this version; declare it under custom:' in got
    assert 'spec.crds.website.operatorBox.reconciler: "constructor" is not supported in this version' in got
    assert 'spec.crds.website.operatorBox.reconciler.queue: "shared" is not supported in this version' in got
    assert ("spec.crds.website.apiTypes.location: typed Go API types are not supported; "
            "Orkestra works with dynamic objects") in got
    autoscale = next(e for e in r.errors if "autoscale" in e.message)
    assert (autoscale.line, autoscale.col) == (10, 9)


def test_types_required_and_enums(report):
    r = report("""\
        spec:
          crds:
            a:
              apiTypes: {group: demo.io, version: v1, kind: A, plural: as}
              enabled: "yes"
              operatorBox:
                reconciler: {workers: many, queue: {onLimit: explode}}
                onReconcile:
                  deployments:
                    - image: [not, a, string]
            b:
              description: no apiTypes
        """)
    got = messages(r.errors)
    assert "spec.crds.a.enabled: expected a bool (true or false), got string" in got
    assert "spec.crds.a.operatorBox.reconciler.workers: expected an integer, got string" in got
    assert 'spec.crds.a.operatorBox.reconciler.queue.onLimit: invalid value "explode" (allowed: warn, drop)' in got
    assert "spec.crds.a.operatorBox.onReconcile.deployments[0].image: expected a string, got list" in got
    assert 'spec.crds.b: missing required field "apiTypes"' in got
    assert {e.crd for e in r.errors} == {"a", "b"}


def test_all_errors_are_collected_across_entries(report):
    body = "spec:\n  crds:\n" + "".join(
        f"    e{i}:\n      apiTypes: {{kind: ConfigMap}}\n      labelSelector: {{x: y{i}}}\n      bogus{i}: 1\n"
        for i in range(5))
    r = report(body)
    assert sorted(e.crd for e in r.errors) == [f"e{i}" for i in range(5)]


def test_top_level_errors_belong_to_no_crd(report):
    r = report("""\
        kind: Katalog
        spec: {crds: {}}
        """, head=False)
    got = messages(r.errors)
    assert 'missing required field "apiVersion"' in got
    r = report("apiVersion: v9\nkind: Katalog\nmetadata: {name: a}\nspec: {crds: {}}\n", head=False)
    assert messages(r.errors) == ['apiVersion: invalid apiVersion "v9" (allowed: orkestra.orkspace.io/v1, '
                                  'orkestra.konductor.io/v1Alpha)']
    assert all(e.crd is None for e in r.errors)
    r = report("""\
        apiVersion: orkestra.orkspace.io/v1
        kind: Operator
        metadata: {name: Bad_Name}
        imports: {files: []}
        spec: {crds: {}}
        """, head=False)
    got = messages(r.errors)
    assert 'kind: invalid kind "Operator" (allowed kinds: Katalog, Komposer)' in got
    assert any(m.startswith('metadata.name: invalid name "Bad_Name"') for m in got)
    r = report("""\
        apiVersion: orkestra.orkspace.io/v1
        kind: Katalog
        metadata: {name: ok}
        imports: {files: []}
        spec: {crds: {}}
        """, head=False)
    assert "imports: imports is only allowed in kind: Komposer" in messages(r.errors)
    assert "spec.crds: no CRDs declared: the runtime will idle" in messages(r.warnings)


def test_the_schema_is_valid_draft_2020_12_and_strict_everywhere():
    from jsonschema import Draft202012Validator

    from orkestra.katalog.schema import KATALOG
    Draft202012Validator.check_schema(KATALOG)

    def objects(node):
        if isinstance(node, dict):
            if node.get("type") == "object" and "properties" in node:
                yield node
            for value in node.values():
                yield from objects(value)
    assert all(o["additionalProperties"] is False for o in objects(KATALOG))
