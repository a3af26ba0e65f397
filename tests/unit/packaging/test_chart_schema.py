"""values.schema.json of deploy/helm/orkestra rejects unknown keys at every level (docs/deploying.md).

Read as JSON, no helm needed: every object schema either lists its properties with
`additionalProperties: false`, or is a map whose values are typed (labels, annotations,
nodeSelector, resource quantities). The one deliberate exception is the inside of `affinity`'s
three Kubernetes objects, passed to the pod spec as given.
"""
from __future__ import annotations

import json
from pathlib import Path

SCHEMA = Path(__file__).resolve().parents[3] / "deploy" / "helm" / "orkestra" / "values.schema.json"
OPEN_ON_PURPOSE = {f"/$defs/affinity/properties/{k}" for k in ("nodeAffinity", "podAffinity", "podAntiAffinity")}


def _objects(node: object, path: str = ""):
    if isinstance(node, dict):
        if node.get("type") == "object":
            yield path, node
        for key, child in node.items():
            yield from _objects(child, f"{path}/{key}")
    elif isinstance(node, list):
        for i, child in enumerate(node):
            yield from _objects(child, f"{path}/{i}")


def test_every_object_is_closed_or_a_typed_map():
    schema = json.loads(SCHEMA.read_text())
    loose = []
    for path, node in _objects(schema):
        extra = node.get("additionalProperties")
        closed = "properties" in node and extra is False
        typed_map = "properties" not in node and isinstance(extra, dict) and "type" in extra
        if not (closed or typed_map) and path not in OPEN_ON_PURPOSE:
            loose.append(path)
    assert loose == []


def test_security_contexts_of_every_component_use_the_closed_definitions():
    schema = json.loads(SCHEMA.read_text())
    for component in ("runtime", "gateway", "controlCenter"):
        props = schema["properties"][component]["properties"]
        assert props["podSecurityContext"] == {"$ref": "#/$defs/podSecurityContext"}
        assert props["securityContext"] == {"$ref": "#/$defs/securityContext"}
    container = schema["$defs"]["securityContext"]["properties"]
    assert {"readOnlyRootFilesystem", "allowPrivilegeEscalation", "capabilities"} <= set(container)
