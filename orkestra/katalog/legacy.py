"""Legacy input forms (katalog.md §17), rewritten to the canonical form before the schema runs.

Each rewrite records one warning naming the legacy construct; a setting present in both its
legacy and canonical place is an error. Subtrees are moved, not copied, so their node marks still
point at the lines the user wrote. Only the shapes the table lists are rewritten: anything else is
left for the schema to report.
"""
from __future__ import annotations

from typing import Any

from orkestra.katalog.issues import IssueSink
from orkestra.katalog.source import Mark, MarkedMap, key_mark

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
                canonical = _QUEUE_RENAMES.get(key, key)
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
        box = entry.get("operatorBox")
        if isinstance(box, dict):
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
                    if isinstance(tpl, dict):
                        self.template(tpl, path + (phase, type_name, i))
        status = box.get("status")
        if isinstance(status, dict) and isinstance(status.get("fields"), list):
            for i, fld in enumerate(status["fields"]):
                if isinstance(fld, dict):
                    self.rename_or(fld, path + ("status", "fields", i))

    def template(self, tpl: dict, path: tuple) -> None:
        self.rename_or(tpl, path)
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


def normalise(doc: dict, sink: IssueSink) -> dict:
    """Rewrite every legacy construct of one parsed document in place; returns the document."""
    _Normaliser(sink).document(doc)
    doc.pop("anchors", None)
    return doc
