"""`crdFile:` — an entry that names its CRD manifest instead of writing `apiTypes` (issue 13).

The manifest is read offline, relative to the Katalog file that names it, so `ork validate`,
`ork template` and `ork generate bundle` need no cluster. Group, storage version, kind, plural
and scope fill the entry's `apiTypes` and `namespaced`; values the entry writes itself must
agree with the manifest. The entry keeps `crdFile` as a resolved path, which
`ork run --install-crds` applies.
"""
from __future__ import annotations

from typing import NamedTuple

import yaml

from orkestra.katalog.issues import IssueSink
from orkestra.katalog.source import (MAX_DEPTH, MarkedMap, map_at, SourceError, check_shape, is_url, join_location,
                                     key_mark, read_source)


class CrdFacts(NamedTuple):
    group: str
    version: str                 # the storage version, else the first served one
    kind: str
    plural: str
    namespaced: bool
    served: tuple[str, ...]      # every served version: an entry may watch any of them


class CrdFileError(ValueError):
    """The manifest is not a usable CustomResourceDefinition (message says why)."""


def read_crd_manifest(location: str) -> dict:
    """The first CustomResourceDefinition in the file. Raises SourceError or CrdFileError.
    The Katalog's own size, depth and alias-expansion limits apply (the manifest is also sent
    to the API server by `--install-crds`)."""
    try:
        docs = list(yaml.safe_load_all(read_source(location)))
    except yaml.YAMLError as exc:
        raise CrdFileError(f"not valid YAML: {getattr(exc, 'problem', None) or exc}") from None
    except RecursionError:
        raise CrdFileError(f"not valid YAML: nesting deeper than {MAX_DEPTH} levels") from None
    for doc in docs:
        check_shape(doc, location)
    for doc in docs:
        if isinstance(doc, dict) and doc.get("kind") == "CustomResourceDefinition":
            return doc
    raise CrdFileError("no CustomResourceDefinition in the file")


def crd_facts(manifest: dict) -> CrdFacts:
    """Group, storage (else first served) version, kind, plural, scope and served versions."""
    spec = manifest.get("spec")
    if not isinstance(spec, dict):
        raise CrdFileError("the CustomResourceDefinition has no spec")
    names = map_at(spec, "names")
    versions = [v for v in spec.get("versions") or [] if isinstance(v, dict) and isinstance(v.get("name"), str)]
    chosen = next((v for v in versions if v.get("storage")), None) or next(
        (v for v in versions if v.get("served", True)), None)
    missing = [what for what, value in (("spec.group", spec.get("group")), ("spec.names.kind", names.get("kind")),
                                        ("spec.names.plural", names.get("plural")),
                                        ("spec.versions", chosen)) if not value]
    if missing or chosen is None:
        raise CrdFileError(f"the CustomResourceDefinition lacks {', '.join(missing)}")
    scope = spec.get("scope", "Namespaced")
    if scope not in ("Namespaced", "Cluster"):
        raise CrdFileError(f'invalid spec.scope "{scope}" (allowed: Namespaced, Cluster)')
    served = tuple(v["name"] for v in versions if v.get("served", True))
    return CrdFacts(str(spec["group"]), chosen["name"], str(names["kind"]), str(names["plural"]),
                    scope == "Namespaced", served)


def _fill(entry: dict, at: tuple, facts: CrdFacts, sink: IssueSink, source: str) -> None:
    api = entry.get("apiTypes")
    if api is None:
        api = MarkedMap()
        api.mark = key_mark(entry, "crdFile")
        entry["apiTypes"] = api
    if not isinstance(api, dict):
        return   # the schema reports the wrong type
    for key, value in (("group", facts.group), ("version", facts.version), ("kind", facts.kind),
                       ("plural", facts.plural)):
        if key not in api:
            api[key] = value
        elif key == "version" and api[key] not in facts.served:
            # one entry per served version (conversion groups): any served version may be watched
            sink.error(at[:-1] + ("apiTypes", key), f'"{api[key]}" is not a served version in {source} '
                       f'(served: {", ".join(facts.served) or "none"})', mark=key_mark(api, key))
        elif key != "version" and api[key] != value:
            sink.error(at[:-1] + ("apiTypes", key), f'"{api[key]}" does not match {source} ("{value}")',
                       mark=key_mark(api, key))
    if "namespaced" not in entry:
        entry["namespaced"] = facts.namespaced
    elif entry["namespaced"] != facts.namespaced:
        written = str(entry["namespaced"]).lower()
        scope = "Namespaced" if facts.namespaced else "Cluster"
        sink.error(at[:-1] + ("namespaced",), f"{written} does not match the scope in {source} ({scope})",
                   mark=key_mark(entry, "namespaced"))


def expand_crd_files(doc: dict, location: str, sink: IssueSink) -> None:
    """Fill `apiTypes`/`namespaced` of every entry with a `crdFile`, in place."""
    spec = doc.get("spec")
    crds = spec.get("crds") if isinstance(spec, dict) else None
    if not isinstance(crds, dict):
        return
    for key, entry in crds.items():
        if not isinstance(entry, dict) or not isinstance(entry.get("crdFile"), str):
            continue
        at = ("spec", "crds", key, "crdFile")
        path = join_location(location, entry["crdFile"])
        try:
            facts = crd_facts(read_crd_manifest(path))
        except (SourceError, CrdFileError) as exc:
            sink.error(at, f"{path}: {exc}", mark=key_mark(entry, "crdFile"))
            continue
        entry["crdFile"] = path
        _fill(entry, at, facts, sink, path if is_url(path) else entry_name(path))


def entry_name(path: str) -> str:
    """The file name shown in messages (the directory is in the error's location already)."""
    return path.rsplit("/", 1)[-1]
