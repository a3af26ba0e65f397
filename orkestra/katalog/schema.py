"""The strict schema of the canonical Katalog (jsonschema, draft 2020-12) and its error mapping.

The schema describes shape only: keys, types and enums, with `additionalProperties: false` on
every object Orkestra interprets (raw Kubernetes fields stay open). Ranges, durations,
cross-references and templates are checked by `orkestra.katalog.checks`, which can name
exactly what would be valid. The validator is compiled once per process and run once per
document; its errors are turned into `file:line:col` issues with dot paths and a did-you-mean.
"""
from __future__ import annotations

import difflib
from functools import lru_cache
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError

from orkestra.katalog.issues import IssueSink, crd_of, format_path
from orkestra.katalog.model import TEMPLATE_TYPES
from orkestra.katalog.source import Mark, locate

STR: dict = {"type": "string"}
BOOL: dict = {"type": "boolean"}
INT: dict = {"type": "integer"}
ANY: dict = {}
DURATION: dict = {"type": ["string", "integer"]}
STR_MAP: dict = {"type": "object", "additionalProperties": {"type": "string"}}
STR_LIST: dict = {"type": "array", "items": STR}
TEMPLATE_VALUE: dict = {"type": ["string", "integer", "number", "boolean"]}

# Keys of features deferred past v1 (docs/katalog-legacy.md lists them): rejected wherever they appear.
DEFERRED_KEYS = frozenset({
    "motif", "motifs", "profiles", "notes", "external", "preReconcile", "gates", "enqueueGate",
    "reconcileGate", "autoscale", "autoscalerWorkers", "rollBackOnError", "normalize", "enrich",
    "enrichAll", "crossAccess", "serve", "idp", "notification", "providers", "gateway", "include",
    "shared", "retryBackoff", "behaviour", "requeue", "constructor", "remote", "crFiles",
    "setup", "cross", "rollback", "watch", "helm", "oci", "certManager", "rotateAfter",
})
# Keys deferred only under one parent (elsewhere the same word is a plain typo): parent path
# pattern ("*" matches one key or index) -> keys. Go-format Katalogs write these (issue 13 C3, C8, C12, C13).
DEFERRED_AT: dict[tuple, frozenset] = {
    ("security",): frozenset({"webhooks", "conversion"}),
    ("metadata",): frozenset({"namespace"}),
    ("imports", "registry", "*"): frozenset({"katalog"}),
    ("spec", "crds", "*"): frozenset({"imports"}),
    ("spec", "crds", "*", "operatorBox"): frozenset({"imports"}),
    ("spec", "crds", "*", "operatorBox", "reconciler", "queue"): frozenset({"default"}),
}
DEFERRED_TYPES = frozenset({"replicaSets", "pods", "daemonSets", "persistentVolumes", "hpa", "pdb",
                            "resourceQuotas", "limitRanges"})
TYPED_API_KEYS = frozenset({"location", "object", "objectList", "alias"})

OPERATOR_KEYS = ("equals", "notEquals", "contains", "notContains", "prefix", "notPrefix", "suffix",
                 "notSuffix", "regex", "exists", "notExists", "greaterThan", "lessThan", "min", "max",
                 "greaterThanOrEqual", "lessThanOrEqual", "between", "notBetween", "in", "notIn", "unique")


def obj(props: dict, required: tuple[str, ...] = ()) -> dict:
    out: dict = {"type": "object", "properties": props, "additionalProperties": False}
    if required:
        out["required"] = list(required)
    return out


def _condition_props() -> dict:
    props = {k: ANY for k in OPERATOR_KEYS}
    props.update(field=STR, operator=STR, value=ANY, valueType=STR, negate=BOOL, uniqueScope=STR,
                 time=ANY, dayOfWeek=ANY, cron=STR, duration=DURATION, timezone=STR)
    return props


CONDITION = obj(_condition_props())
CONDITIONS = {"type": "array", "items": CONDITION}

SHARED_TEMPLATE = {
    "name": STR, "namespace": STR, "labels": STR_MAP | {"additionalProperties": TEMPLATE_VALUE},
    "annotations": {"type": "object", "additionalProperties": TEMPLATE_VALUE},
    "reconcile": BOOL, "action": {"enum": ["apply", "delete"]}, "once": BOOL,
    "when": CONDITIONS, "anyOf": CONDITIONS,
    "forEach": obj({"field": STR, "as": STR}, ("field",)),
}
_ENV = {"type": ["object", "array"]}
_WORKLOAD = {
    "image": STR, "replicas": TEMPLATE_VALUE, "port": TEMPLATE_VALUE, "containerName": STR,
    "command": {"type": "array"}, "args": {"type": "array"}, "env": _ENV,
    "envFrom": obj({"configMapRef": STR_LIST, "secretRef": STR_LIST}), "imagePullPolicy": STR,
    "imagePullSecrets": STR_LIST, "resources": obj({"requests": ANY, "limits": ANY}),
    "serviceAccountName": STR, "nodeSelector": {"type": "object"}, "podLabels": {"type": "object"},
    "podAnnotations": {"type": "object"}, "tolerations": ANY, "affinity": ANY,
    "probes": obj({"liveness": ANY, "readiness": ANY, "startup": ANY}), "securityContext": ANY,
    "podSecurityContext": ANY, "volumes": ANY, "volumeMounts": ANY,
}
_JOB = {
    "image": STR, "command": {"type": "array"}, "args": {"type": "array"}, "env": _ENV,
    "envFrom": _WORKLOAD["envFrom"], "backoffLimit": TEMPLATE_VALUE, "restartPolicy": STR,
    "ttlSecondsAfterFinished": TEMPLATE_VALUE, "activeDeadlineSeconds": TEMPLATE_VALUE,
    "serviceAccountName": STR, "resources": _WORKLOAD["resources"], "volumes": ANY, "volumeMounts": ANY,
}
TYPE_FIELDS: dict[str, dict] = {
    "deployments": _WORKLOAD | {"strategy": ANY},
    "statefulSets": _WORKLOAD | {"serviceName": STR, "volumeClaimTemplates": ANY},
    "jobs": _JOB,
    "cronJobs": _JOB | {"schedule": STR, "timeZone": STR, "suspend": ANY, "concurrencyPolicy": STR,
                        "startingDeadlineSeconds": TEMPLATE_VALUE, "successfulJobsHistoryLimit": TEMPLATE_VALUE,
                        "failedJobsHistoryLimit": TEMPLATE_VALUE},
    "services": {"type": STR, "port": TEMPLATE_VALUE, "targetPort": TEMPLATE_VALUE, "protocol": STR,
                 "nodePort": TEMPLATE_VALUE, "selector": {"type": "object"}, "ports": ANY,
                 "clusterIP": STR, "sessionAffinity": STR, "externalTrafficPolicy": STR,
                 "internalTrafficPolicy": STR, "ipFamilyPolicy": STR, "ipFamilies": STR_LIST,
                 "loadBalancerClass": STR, "loadBalancerSourceRanges": STR_LIST, "externalName": STR,
                 "publishNotReadyAddresses": TEMPLATE_VALUE},
    "ingresses": {"host": STR, "path": STR, "pathType": STR, "serviceName": STR, "servicePort": TEMPLATE_VALUE,
                  "ingressClassName": STR, "tls": obj({"secretName": STR, "hosts": {"type": "array"}}), "rules": ANY},
    "networkPolicies": {"podSelector": {"type": "object"}, "policyTypes": {"type": "array"}, "ingress": ANY,
                        "egress": ANY},
    "configMaps": {"data": {"type": "object", "additionalProperties": TEMPLATE_VALUE},
                   "fromConfigMap": STR, "fromNamespace": STR, "toNamespaces": STR_LIST},
    "secrets": {"type": STR, "data": {"type": "object", "additionalProperties": TEMPLATE_VALUE},
                "fromSecret": STR, "fromNamespace": STR, "toNamespaces": STR_LIST},
    "namespaces": {},
    "persistentVolumeClaims": {"storage": TEMPLATE_VALUE, "accessModes": STR_LIST, "storageClassName": STR,
                               "volumeMode": STR},
    "serviceAccounts": {"automountServiceAccountToken": ANY, "imagePullSecrets": STR_LIST},
    "roles": {"rules": {"type": "array"}},
    "clusterRoles": {"rules": {"type": "array"}},
    "roleBindings": {"roleRef": obj({"kind": STR, "name": STR, "apiGroup": STR}), "subjects": {"type": "array"}},
    "clusterRoleBindings": {"roleRef": obj({"kind": STR, "name": STR, "apiGroup": STR}),
                            "subjects": {"type": "array"}},
    "custom": {"apiVersion": STR, "kind": STR, "plural": STR, "spec": ANY, "fields": {"type": "object"}},
}
assert set(TYPE_FIELDS) == set(TEMPLATE_TYPES)

PHASE = obj({t: {"type": "array", "items": obj(SHARED_TEMPLATE | fields)} for t, fields in TYPE_FIELDS.items()})

HOOKS = obj({"module": STR, "function": STR, "runHooksFirst": BOOL,
             "managedResources": {"type": "array", "items": obj({"apiVersion": STR, "kind": STR, "plural": STR},
                                                               ("kind",))},
             "args": {"type": "object"}}, ("module", "function"))
RECONCILER = obj({
    "default": BOOL, "workers": INT, "resync": DURATION, "timeout": DURATION, "hooks": HOOKS,
    "queue": obj({"maxDepth": INT, "onLimit": {"enum": ["warn", "drop"]}, "failureThreshold": INT}),
})
STATUS = obj({"conditions": BOOL, "fields": {"type": "array", "items": obj({
    "path": STR, "value": ANY, "type": {"enum": ["string", "int", "integer", "float", "bool", "boolean", "auto"]},
    "when": CONDITIONS, "anyOf": CONDITIONS, "clearOnFalse": BOOL}, ("path",))}})
OPERATOR_BOX = obj({"reconciler": RECONCILER, "finalizers": STR_LIST, "deleteTimeout": DURATION,
                    "onCreate": PHASE, "onReconcile": PHASE, "onDelete": PHASE, "status": STATUS})

VALIDATION_RULE = obj(_condition_props() | {"message": STR, "action": {"enum": ["deny", "warn"]},
                                            "when": CONDITIONS, "anyOf": CONDITIONS}, ("field",))
MUTATION_RULE = obj({"field": STR, "default": ANY, "override": ANY,
                     "valueType": {"enum": ["auto", "string", "int", "float", "bool"]},
                     "when": CONDITIONS, "anyOf": CONDITIONS}, ("field",))
CONVERSION = obj({"storageVersion": STR, "updateCRD": BOOL, "paths": {"type": "array", "items": obj(
    {"from": STR, "to": STR, "spec": {"type": "object"}}, ("from", "to"))}}, ("storageVersion",))

CRD_ENTRY = obj({
    "enabled": BOOL, "description": STR, "crdFile": STR,
    "apiTypes": obj({"group": STR, "version": STR, "kind": STR, "plural": STR}, ("kind",)),
    "namespaced": BOOL, "namespace": STR, "labelSelector": STR_MAP, "fieldSelector": STR_MAP,
    "dependsOn": {"type": ["array", "object"]},
    "labels": {"type": "object", "additionalProperties": TEMPLATE_VALUE},
    "endpoints": obj({"enabled": BOOL, "health": BOOL, "info": BOOL}),
    "allowedNamespaces": STR_LIST, "restrictedNamespaces": STR_LIST,
    "validation": obj({"rules": {"type": "array", "items": VALIDATION_RULE}}),
    "mutation": obj({"mutateFirst": BOOL, "rules": {"type": "array", "items": MUTATION_RULE}}),
    "conversion": CONVERSION,
    "webhooks": obj({"validation": BOOL, "mutation": BOOL, "operations": STR_LIST}),
    "deletionProtection": obj({"protectCRD": BOOL, "protectCRs": BOOL, "strictMode": BOOL}),
    "forceConflict": BOOL, "ignoreStatusPatch": BOOL, "ignoreObservedGeneration": BOOL,
    "operatorBox": OPERATOR_BOX,
}, ("apiTypes",))

_POLICY = {"enum": ["Ignore", "Fail"]}
SECURITY = obj({
    "serviceName": STR,
    "admission": obj({"failurePolicy": _POLICY}),
    "deletionProtection": obj({"enabled": BOOL, "failurePolicy": _POLICY, "strictMode": BOOL,
                               "cleanupOnShutdown": BOOL}),
    "namespaceProtection": obj({"enabled": BOOL, "restrictedNamespaces": STR_LIST, "allowedNamespaces": STR_LIST,
                                "failurePolicy": _POLICY, "cleanupOnShutdown": BOOL}),
})
IMPORTS = obj({
    "files": STR_LIST,
    "registry": {"type": "array", "items": obj({
        "name": STR, "version": STR, "url": STR,
        "auth": obj({"type": {"enum": ["bearer", "basic"]}, "fromEnv": STR, "usernameFromEnv": STR,
                     "passwordFromEnv": STR}, ("type",))}, ("name",))},
})
KATALOG = obj({
    "apiVersion": {"enum": ["orkestra.orkspace.io/v1"]},
    "kind": STR,
    "metadata": obj({"name": STR, "description": STR, "version": {"type": ["string", "number"]}, "author": STR,
                     "tags": STR_LIST}, ("name",)),
    "anchors": ANY,
    "security": SECURITY,
    "imports": IMPORTS,
    "spec": obj({"finalizers": STR_LIST, "crds": {"type": "object", "additionalProperties": CRD_ENTRY}}, ("crds",)),
}, ("apiVersion", "kind", "spec"))


@lru_cache(maxsize=1)
def validator() -> Draft202012Validator:
    """The compiled validator (the schema itself is checked against the meta-schema in the tests)."""
    return Draft202012Validator(KATALOG)


_JSON_TYPES = {dict: "map", list: "list", str: "string", bool: "bool", int: "integer", float: "number",
               type(None): "null"}


def _type_name(value: Any) -> str:
    for py, name in _JSON_TYPES.items():
        if type(value) is py:
            return name
    if isinstance(value, dict):
        return "map"
    if isinstance(value, list):
        return "list"
    return type(value).__name__


def _expected(schema_type: Any) -> str:
    names = {"object": "a map", "array": "a list", "string": "a string", "boolean": "a bool (true or false)",
             "integer": "an integer", "number": "a number", "null": "null"}
    types: list[str] = schema_type if isinstance(schema_type, list) else [schema_type]
    return " or ".join(names.get(t, t) for t in types)


def _unknown_key(sink: IssueSink, path: tuple, key: str, known: list[str], parent: tuple) -> None:
    where = path + (key,)
    sink.unknown_paths.add(format_path(where))
    if key in TYPED_API_KEYS and parent[-1:] == ("apiTypes",):
        sink.error(where, "typed Go API types are not supported; Orkestra works with dynamic objects")
    elif key in DEFERRED_TYPES and parent[-1:] in (("onCreate",), ("onReconcile",), ("onDelete",)):
        sink.error(path, f'"{key}" is not supported in this version; declare it under custom:',
                   mark=_mark_of(sink, where))
    elif is_deferred(parent, key):
        sink.error(path, f'"{key}" is not supported in this version', mark=_mark_of(sink, where))
    else:
        close = difflib.get_close_matches(key, known, n=1, cutoff=0.75)
        hint = f' (did you mean "{close[0]}"?)' if close else ""
        sink.error(where, f'unknown field "{format_path(where)}"{hint}', with_path=False)


def is_deferred_at(parent: tuple, key: str) -> bool:
    """Is `key` a deferred feature's key under `parent` (see DEFERRED_AT)?"""
    for pattern, keys in DEFERRED_AT.items():
        if key in keys and len(pattern) == len(parent) and all(p in ("*", q) for p, q in zip(pattern, parent)):
            return True
    return False


def is_deferred(parent: tuple, key: str) -> bool:
    """Does an unknown `key` under `parent` belong to a deferred feature?"""
    return key in DEFERRED_KEYS or is_deferred_at(parent, key)


def _mark_of(sink: IssueSink, parts: tuple) -> Mark | None:
    return locate(sink.doc, parts)


def check_schema(doc: dict, sink: IssueSink) -> None:
    """Validate one normalised document; every error goes to `sink` with its source location."""
    for err in sorted(validator().iter_errors(doc), key=lambda e: [str(p) for p in e.absolute_path]):
        _report(err, sink)


def _report(err: ValidationError, sink: IssueSink) -> None:
    path = tuple(err.absolute_path)
    kind = err.validator
    if kind != "additionalProperties":
        sink.shape_errors.add(crd_of(path))
    if kind == "additionalProperties":
        known = list(err.schema.get("properties", {}))
        extras = [k for k in err.instance if k not in err.schema.get("properties", {})]
        for key in extras:
            _unknown_key(sink, path, key, known, path)
    elif kind == "required":
        missing = [k for k in err.validator_value if k not in err.instance]
        if "crdFile" in err.instance:
            missing = [k for k in missing if k != "apiTypes"]   # the unreadable crdFile is reported
        for key in missing:
            sink.error(path, f'missing required field "{key}"')
    elif kind == "type":
        sink.error(path, f"expected {_expected(err.validator_value)}, got {_type_name(err.instance)}")
    elif kind == "enum" and path == ("apiVersion",):
        sink.error(path, f'invalid apiVersion "{err.instance}" (allowed: orkestra.orkspace.io/v1, '
                   "orkestra.konductor.io/v1Alpha)")
    elif kind == "enum":
        allowed = ", ".join(str(v) for v in err.validator_value)
        shown = err.instance if isinstance(err.instance, (str, int, float, bool)) else _type_name(err.instance)
        sink.error(path, f'invalid value "{shown}" (allowed: {allowed})')
    else:
        sink.error(path, err.message)
