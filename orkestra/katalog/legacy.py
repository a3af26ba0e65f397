"""Legacy input forms and the Go Orkestra's forms (docs/katalog-legacy.md), rewritten to the
canonical form before the schema runs.

Each rewrite records one warning naming the legacy construct; a setting present in both its
legacy and canonical place is an error. Subtrees are moved, not copied, so their node marks still
point at the lines the user wrote. Only the shapes the table lists are rewritten: anything else is
left for the schema to report.
"""
from __future__ import annotations

import difflib
from typing import Any

from orkestra.katalog.issues import IssueSink
from orkestra.katalog.schema import SHARED_TEMPLATE, TYPE_FIELDS, is_deferred
from orkestra.katalog.source import Mark, MarkedMap, MarkedSeq, key_mark
from orkestra.template.values import to_text

CANONICAL_API_VERSION = "orkestra.orkspace.io/v1"
LEGACY_API_VERSION = "orkestra.konductor.io/v1Alpha"

# legacy entry-level `reconciler:` key -> canonical location relative to the entry
_RECONCILER_MOVES: dict[str, tuple[str, ...]] = {
    "default": ("operatorBox", "reconciler", "default"),
    "hooks": ("operatorBox", "reconciler", "hooks"),
    "finalizers": ("operatorBox", "finalizers"),
    "onCreate": ("operatorBox", "onCreate"),
    "onReconcile": ("operatorBox", "onReconcile"),
    "onDelete": ("operatorBox", "onDelete"),
    "status": ("operatorBox", "status"),
    "validation": ("validation",),
    "mutation": ("mutation",),
    "mutateFirst": ("mutation", "mutateFirst"),
    "workers": ("operatorBox", "reconciler", "workers"),
    "resync": ("operatorBox", "reconciler", "resync"),
}
_QUEUE_RENAMES = {"maxQueueDepth": "maxDepth", "degradeThreshold": "failureThreshold"}
# Go-format keys written directly under operatorBox -> canonical location relative to the entry
_BOX_MOVES: dict[str, tuple[str, ...]] = {
    "default": ("operatorBox", "reconciler", "default"),
    "hooks": ("operatorBox", "reconciler", "hooks"),
}
# Go-format `metadata:` block of a custom child: keys that become the entry's own keys
_CUSTOM_META = ("name", "namespace", "labels", "annotations")
# Go-format custom-child keys that Orkestra does not use (the scope comes from the API server)
_CUSTOM_IGNORED = {
    "namespaced": "the scope of a custom kind is read from the API server",
    "hasStatus": "whether a kind has a status subresource is read from its CRD",
}
_CUSTOM_KEYS = frozenset(SHARED_TEMPLATE) | frozenset(TYPE_FIELDS["custom"])


def _dotted(parts: tuple) -> str:
    return ".".join(str(p) for p in parts)


class _Normaliser:
    def __init__(self, sink: IssueSink):
        self.sink = sink

    def warn(self, path: tuple, text: str, mark: Mark | None) -> None:
        self.sink.warn(path, text, mark=mark)

    def put(self, entry: dict, entry_path: tuple, target: tuple[str, ...], value: Any,
            mark: Mark | None, legacy: str) -> None:
        """Set `entry[target...] = value`, creating maps; both set -> error."""
        node = entry
        for key in target[:-1]:
            child = node.get(key)
            if child is None:
                child = MarkedMap()
                child.mark = mark
                node[key] = child
                if isinstance(node, MarkedMap) and mark is not None:
                    node.key_marks[key] = mark
            if not isinstance(child, dict):
                self.sink.error(entry_path, f"both {legacy} and {_dotted(target)} are set", mark=mark)
                return
            node = child
        last = target[-1]
        if last in node:
            self.sink.error(entry_path, f"both {legacy} and {_dotted(target)} are set", mark=mark)
            return
        node[last] = value
        if isinstance(node, MarkedMap) and mark is not None:
            node.key_marks[last] = mark

    def deferred(self, where: tuple, key: str, canonical_parent: tuple, mark: Mark | None) -> bool:
        """Report a deferred key at the place the user wrote it (not at its rewritten path)."""
        if not is_deferred(canonical_parent, key):
            return False
        self.sink.error(where, f'"{key}" is not supported in this version', mark=mark)
        return True

    # -- top level -------------------------------------------------------------------------
    def document(self, doc: dict) -> None:
        if doc.get("apiVersion") == LEGACY_API_VERSION:
            doc["apiVersion"] = CANONICAL_API_VERSION
            self.warn(("apiVersion",), f"{LEGACY_API_VERSION} is a legacy apiVersion; write {CANONICAL_API_VERSION}",
                      key_mark(doc, "apiVersion"))
        if "sources" in doc:
            mark = key_mark(doc, "sources")
            if "imports" in doc:
                self.sink.error((), "both sources and imports are set", mark=mark)
                del doc["sources"]   # reported once, not again as an unknown field
            else:
                doc["imports"] = doc.pop("sources")
                if isinstance(doc, MarkedMap) and mark:
                    doc.key_marks["imports"] = mark
                self.warn(("sources",), "legacy key; write imports", mark)
        if isinstance(doc.get("security"), dict):
            self.security(doc["security"])
        spec = doc.get("spec")
        if not isinstance(spec, dict):
            return
        crds = spec.get("crds")
        if isinstance(crds, list):
            spec["crds"] = self.crd_list(crds, key_mark(spec, "crds"))
            crds = spec["crds"]
        if isinstance(crds, dict):
            for key, entry in crds.items():
                if isinstance(entry, dict):
                    self.entry(entry, ("spec", "crds", key))

    def security(self, sec: dict) -> None:
        """Go's `security.webhooks` block and object-form `serviceName` (issue 13 C3)."""
        name = sec.get("serviceName")
        if isinstance(name, dict):
            mark = key_mark(sec, "serviceName")
            del sec["serviceName"]
            for key in name:
                if key != "runtime":
                    self.sink.error(("security", "serviceName"), f'"{key}" is not supported in this version',
                                    mark=key_mark(name, key))
            if "runtime" in name:
                self.warn(("security", "serviceName"), "serviceName as {runtime: ...} is a legacy form; "
                          "write serviceName: <name>", mark)
                self.put(sec, ("security",), ("serviceName",), name["runtime"], mark, "serviceName.runtime")
        hooks = sec.get("webhooks")
        if not isinstance(hooks, dict):
            return
        at = ("security", "webhooks")
        mark = key_mark(sec, "webhooks")
        del sec["webhooks"]
        self.warn(at, "security.webhooks is a legacy form; write security.admission.failurePolicy and "
                  "security.serviceName", mark)
        for key, value in hooks.items():
            if key == "serviceName":
                self.put(sec, at, ("serviceName",), value, key_mark(hooks, key), "webhooks.serviceName")
            elif key == "failurePolicy":
                self.put(sec, at, ("admission", "failurePolicy"), value, key_mark(hooks, key),
                         "webhooks.failurePolicy")
            elif key == "admission" and not isinstance(value, dict):
                self.sink.error(at + ("admission",), "expected a map of enabled and failurePolicy",
                                mark=key_mark(hooks, key))
            elif key == "admission":
                for sub, subval in value.items():
                    if sub == "failurePolicy":
                        self.put(sec, at, ("admission", "failurePolicy"), subval, key_mark(value, sub),
                                 "webhooks.admission.failurePolicy")
                    else:
                        self.webhook_switch(at + ("admission",), sub, key_mark(value, sub))
            else:
                self.webhook_switch(at, key, key_mark(hooks, key))

    def webhook_switch(self, at: tuple, key: str, mark: Mark | None) -> None:
        """Webhooks are switched on by the environment (ENABLE_ADMISSION_WEBHOOK), not by the Katalog."""
        if key in ("enabled", "cleanupOnShutdown"):
            self.sink.error(at, f'"{key}" is not supported in this version; the environment variables '
                            "ENABLE_ADMISSION_WEBHOOK and ENABLE_CONVERSION switch webhooks on", mark=mark)
        else:
            self.sink.error(at + (key,), f'unknown field "{_dotted(at + (key,))}"', mark=mark, with_path=False)

    def crd_list(self, items: list, mark: Mark | None) -> MarkedMap:
        out = MarkedMap()
        out.mark = mark
        self.warn(("spec", "crds"), "a list of entries with name: is a legacy form; write a map keyed by CRD name", mark)
        for i, item in enumerate(items):
            item_mark = key_mark(items, i)
            if not isinstance(item, dict) or not isinstance(item.get("name"), str) or not item.get("name"):
                self.sink.error(("spec", "crds", i), "name is required in the list form of spec.crds", mark=item_mark)
                continue
            name = item.pop("name")
            if name in out:
                self.sink.error(("spec", "crds", i), f'duplicate CRD name "{name}"', mark=item_mark)
                continue
            out[name] = item
            if item_mark:
                out.key_marks[name] = item_mark
        return out

    # -- CRD entry ---------------------------------------------------------------------------
    def entry(self, entry: dict, path: tuple) -> None:
        legacy = entry.get("reconciler")
        if isinstance(legacy, dict):
            mark = key_mark(entry, "reconciler")
            del entry["reconciler"]
            self.warn(path + ("reconciler",), "the entry-level reconciler block is a legacy form; write operatorBox", mark)
            for key, value in list(legacy.items()):
                target = _RECONCILER_MOVES.get(key, ("operatorBox", "reconciler", key))
                if self.deferred(path + ("reconciler",), key, path + target[:-1], key_mark(legacy, key)):
                    continue
                if key in ("validation", "mutation") and isinstance(value, list):
                    value = self.rules_list(value, path + ("reconciler", key), key_mark(legacy, key))
                if key == "mutation" and isinstance(value, dict) and isinstance(entry.get("mutation"), dict):
                    for sub, subval in value.items():  # mutateFirst may already have created the map
                        self.put(entry, path, ("mutation", sub), subval, key_mark(value, sub), f"reconciler.mutation.{sub}")
                    continue
                self.put(entry, path, target, value, key_mark(legacy, key), f"reconciler.{key}")
        for key in ("workers", "resync"):
            if key in entry:
                mark = key_mark(entry, key)
                value = entry.pop(key)
                self.warn(path + (key,), f"entry-level {key} is a legacy form; write operatorBox.reconciler.{key}", mark)
                if key == "workers" and value == 0:
                    continue
                self.put(entry, path, ("operatorBox", "reconciler", key), value, mark, key)
        queue = entry.get("queue")
        if isinstance(queue, dict):
            mark = key_mark(entry, "queue")
            del entry["queue"]
            self.warn(path + ("queue",), "entry-level queue is a legacy form; write operatorBox.reconciler.queue", mark)
            for key, value in queue.items():
                canonical = _QUEUE_RENAMES.get(key) or key
                if self.deferred(path + ("queue",), key, path + ("operatorBox", "reconciler", "queue"),
                                 key_mark(queue, key)):
                    continue
                self.put(entry, path, ("operatorBox", "reconciler", "queue", canonical), value,
                         key_mark(queue, key), f"queue.{key}")
        for key in ("validation", "mutation"):
            if isinstance(entry.get(key), list):
                mark = key_mark(entry, key)
                entry[key] = self.rules_list(entry[key], path + (key,), mark)
        for key in ("validation", "mutation"):
            block = entry.get(key)
            if isinstance(block, dict) and isinstance(block.get("rules"), list):
                for i, rule in enumerate(block["rules"]):
                    if isinstance(rule, dict):
                        self.rename_or(rule, path + (key, "rules", i))
        conversion = entry.get("conversion")
        if isinstance(conversion, dict) and "participant" in conversion:
            mark = key_mark(conversion, "participant")
            del conversion["participant"]
            self.warn(path + ("conversion", "participant"), "conversion.participant is a legacy form: entries "
                      "sharing group and kind form one conversion group; declare conversion on one of them", mark)
            if not conversion:
                del entry["conversion"]
        box = entry.get("operatorBox")
        if isinstance(box, dict):
            for key, target in _BOX_MOVES.items():
                if key in box:
                    mark = key_mark(box, key)
                    self.warn(path + ("operatorBox", key),
                              f"operatorBox.{key} is a legacy form; write operatorBox.{_dotted(target[1:])}", mark)
                    self.put(entry, path, target, box.pop(key), mark, f"operatorBox.{key}")
            self.box(box, path + ("operatorBox",))

    def rules_list(self, rules: list, path: tuple, mark: Mark | None) -> MarkedMap:
        out = MarkedMap(rules=rules)
        out.mark = mark
        if mark:
            out.key_marks["rules"] = mark
        self.warn(path, "a bare list is a legacy form; write {rules: [...]}", mark)
        return out

    def rename_or(self, node: dict, path: tuple) -> None:
        if "or" not in node:
            return
        mark = key_mark(node, "or")
        if "anyOf" in node:
            self.sink.error(path, "both or and anyOf are set", mark=mark)
            del node["or"]           # reported once, not again as an unknown field
            return
        node["anyOf"] = node.pop("or")
        if isinstance(node, MarkedMap) and mark:
            node.key_marks["anyOf"] = mark
        self.warn(path + ("or",), "or: is a legacy alias; write anyOf", mark)

    def box(self, box: dict, path: tuple) -> None:
        reconciler = box.get("reconciler")
        if isinstance(reconciler, dict):
            hooks = reconciler.get("hooks")
            if isinstance(hooks, dict) and "location" in hooks:
                hpath = path + ("reconciler", "hooks")
                mark = key_mark(hooks, "location")
                if "module" in hooks:
                    self.sink.error(hpath, "both location and module are set", mark=mark)
                    del hooks["location"]   # reported once, not again as an unknown field
                else:
                    hooks["module"] = hooks.pop("location")
                    if isinstance(hooks, MarkedMap) and mark:
                        hooks.key_marks["module"] = mark
                    self.warn(hpath + ("location",), "hooks.location is a legacy alias; write hooks.module", mark)
        for phase in ("onCreate", "onReconcile", "onDelete"):
            types = box.get(phase)
            if not isinstance(types, dict):
                continue
            for type_name, entries in types.items():
                if not isinstance(entries, list):
                    continue
                for i, tpl in enumerate(entries):
                    if isinstance(tpl, dict) and type_name == "custom":
                        self.custom(tpl, path + (phase, type_name, i))
                    if isinstance(tpl, dict):
                        self.template(tpl, path + (phase, type_name, i))
        status = box.get("status")
        if isinstance(status, dict) and isinstance(status.get("fields"), list):
            for i, fld in enumerate(status["fields"]):
                if isinstance(fld, dict):
                    self.rename_or(fld, path + ("status", "fields", i))

    def custom(self, tpl: dict, path: tuple) -> None:
        """The Go form of a custom child: a metadata block, and manifest fields at the top level."""
        meta = tpl.get("metadata")
        if "metadata" in tpl and not isinstance(meta, dict):
            self.sink.error(path + ("metadata",), "expected a map of name, namespace, labels and annotations",
                            mark=key_mark(tpl, "metadata"))
            del tpl["metadata"]
        if isinstance(meta, dict):
            mark = key_mark(tpl, "metadata")
            del tpl["metadata"]
            self.warn(path + ("metadata",), "a metadata block on a custom child is a legacy form; "
                      "write name, namespace, labels and annotations on the entry", mark)
            for key, value in meta.items():
                if key in _CUSTOM_META:
                    self.put(tpl, path, (key,), value, key_mark(meta, key), f"metadata.{key}")
                elif key in _CUSTOM_IGNORED:
                    self.warn(path + ("metadata", key), f"ignored: {_CUSTOM_IGNORED[key]}", key_mark(meta, key))
                else:
                    self.sink.error(path + ("metadata", key), f'unknown field "{key}" in a custom child\'s metadata '
                                    f'(allowed: {", ".join(_CUSTOM_META + tuple(_CUSTOM_IGNORED))})',
                                    mark=key_mark(meta, key), with_path=False)
        for key in [k for k in tpl if k not in _CUSTOM_KEYS]:
            mark = key_mark(tpl, key)
            if key in _CUSTOM_IGNORED:
                del tpl[key]
                self.warn(path + (key,), f"ignored: {_CUSTOM_IGNORED[key]}", mark)
            elif key != "or" and not is_deferred(path, key) and not _looks_like_a_typo(key):
                self.warn(path + (key,), f"a manifest field at the top of a custom child is a legacy form; "
                          f"write fields.{key}", mark)
                self.put(tpl, path, ("fields", key), tpl.pop(key), mark, key)

    def env_map(self, tpl: dict, path: tuple) -> None:
        """`env: {NAME: {value: ...}}` / `{NAME: {valueFrom: ...}}` -> the list form (issue 13 C16)."""
        env = tpl.get("env")
        if not isinstance(env, dict) or not any(_is_env_var(v) for v in env.values()):
            return
        mark = key_mark(tpl, "env")
        out = MarkedSeq()
        out.mark = mark
        for name, value in env.items():
            item = MarkedMap(name=name)
            if _is_env_var(value) and "valueFrom" in value:
                item.update(value)
            else:   # printed as the map form prints it: a list entry's value is raw, and must be text
                item["value"] = to_text(value["value"] if _is_env_var(value) else value)
            out.append(item)
            out.item_marks.append(key_mark(env, name))
        tpl["env"] = out
        self.warn(path + ("env",), "env as a map of {value} or {valueFrom} is a legacy form; "
                  "write a list of {name, value} or {name, valueFrom}", mark)

    def template(self, tpl: dict, path: tuple) -> None:
        self.rename_or(tpl, path)
        self.env_map(tpl, path)
        for key in ("labels", "annotations"):
            value = tpl.get(key)
            if not isinstance(value, list):
                continue
            mark = key_mark(tpl, key)
            if not all(isinstance(i, dict) and set(i) <= {"key", "value"} and isinstance(i.get("key"), str)
                       for i in value):
                continue  # not the legacy shape: the schema reports it
            out = MarkedMap()
            out.mark = mark
            for i, item in enumerate(value):
                out[item["key"]] = item.get("value", "")
                item_mark = key_mark(value, i)
                if item_mark:
                    out.key_marks[item["key"]] = item_mark
            tpl[key] = out
            self.warn(path + (key,), f"{key} as a list of {{key, value}} is a legacy form; write a map", mark)


def _looks_like_a_typo(key: str) -> bool:
    """A top-level custom-child key close to one of the entry's own keys (`whne`, `foreach`) is
    left for the schema's did-you-mean: passed into the manifest, a mistyped `when` would create
    the child unconditionally. Same closeness as the schema's suggestions."""
    return bool(difflib.get_close_matches(key, _CUSTOM_KEYS, n=1, cutoff=0.75))


def _is_env_var(value: Any) -> bool:
    return isinstance(value, dict) and len(value) == 1 and set(value) <= {"value", "valueFrom"}


def normalise(doc: dict, sink: IssueSink) -> dict:
    """Rewrite every legacy construct of one parsed document in place; returns the document."""
    _Normaliser(sink).document(doc)
    doc.pop("anchors", None)
    return doc
