"""Komposer imports and multi-file merging (docs/katalog.md#komposer-and-imports).

Resolution order: registry entries, then files, then the Komposer's own `spec.crds` overrides,
deep-merged onto imported entries (maps merge; lists and scalars replace). Several `-f` files
merge the same way. Every file read is parsed with marks and normalised from legacy forms right
away, so merged subtrees keep pointing at the file and line they came from. Credentials for
registry fetches come from the environment only (`LoadInputs.credentials`, never the Katalog).
"""
from __future__ import annotations

import base64
import os
from dataclasses import dataclass, field
from typing import Any, Mapping

from orkestra.katalog.crdfile import expand_crd_files
from orkestra.katalog.inputs import CREDENTIAL_PREFIX, LoadInputs
from orkestra.katalog.issues import IssueSink
from orkestra.katalog.legacy import normalise
from orkestra.katalog.schema import is_deferred
from orkestra.katalog.source import (
    MarkedMap, SourceError, is_url, join_location, key_mark, origin, parse_yaml, plain, read_source,
    redact_url,
)
from orkestra.netaddr import is_loopback_host

LITERAL_CREDENTIALS = ("token", "password", "username")


@dataclass
class Composed:
    """A merged document, where each CRD key came from, and the files read in order."""

    doc: dict
    crd_sources: dict[str, str] = field(default_factory=dict)
    files: list[str] = field(default_factory=list)
    parsed: list[dict] = field(default_factory=list)   # every document read (schema-checked separately)
    raw: dict = field(default_factory=dict)            # the first document as written


def read_document(location: str, sink: IssueSink, *, headers: Mapping[str, str] | None = None,
                  missing: str | None = None, at: tuple = ()) -> dict | None:
    """Parse and normalise one file. `missing` is the message prefix for a file that is not there."""
    shown = redact_url(location)
    try:
        text = read_source(location, headers=headers)
        doc = parse_yaml(text, shown)
    except SourceError as exc:
        if missing is not None and exc.message.startswith(("file not found", "HTTP 404")):
            sink.error(at, f"{missing}: {shown}")
        elif missing is not None and exc.message == "empty file":
            sink.error(at, f"empty pattern file: {shown}")
        elif at:
            sink.error(at, f"{shown}: {exc.message}", mark=exc.mark)
        else:
            sink.error((), exc.message, with_path=False, mark=exc.mark, file=shown)
        return None
    if not isinstance(doc, dict):
        sink.error((), f"the document must be a map, got {type(doc).__name__}", with_path=False,
                   mark=getattr(doc, "mark", None), file=shown)
        return None
    return doc


def deep_merge(base: Any, over: Any) -> Any:
    """Override semantics of §14: maps merge recursively, lists and scalars replace."""
    if not (isinstance(base, dict) and isinstance(over, dict)):
        return over
    out = MarkedMap(base)
    out.mark = getattr(base, "mark", None)
    out.key_marks.update(getattr(base, "key_marks", {}))
    for key, value in over.items():
        out[key] = deep_merge(base[key], value) if key in base else value
        mark = key_mark(over, key)
        if mark is not None:
            out.key_marks[key] = mark
    return out


def _crds_of(doc: dict) -> dict:
    spec = doc.get("spec")
    crds = spec.get("crds") if isinstance(spec, dict) else None
    return crds if isinstance(crds, dict) else {}


class _Merger:
    """Accumulates CRD entries from several sources with the duplicate and security rules."""

    def __init__(self, sink: IssueSink, *, check_security: bool = True):
        self.sink = sink
        self.check_security = check_security
        self.crds = MarkedMap()
        self.sources: dict[str, str] = {}
        self.finalizers: list[str] = []
        self.security: tuple[str, Any] | None = None

    def add(self, doc: dict, source: str) -> None:
        for key, entry in _crds_of(doc).items():
            if key in self.crds:
                self.sink.error(("spec", "crds", key),
                                f'duplicate CRD "{key}": defined in {self.sources[key]} and {source}',
                                with_path=False, mark=key_mark(_crds_of(doc), key))
                continue
            self.crds[key] = entry
            self.sources[key] = source
            mark = key_mark(_crds_of(doc), key)
            if mark is not None:
                self.crds.key_marks[key] = mark
        spec = doc.get("spec")
        fins = spec.get("finalizers") if isinstance(spec, dict) else None
        if isinstance(fins, list):
            self.finalizers.extend(f for f in fins if f not in self.finalizers)
        if "security" in doc and self.check_security:
            if self.security is None:
                self.security = (source, doc["security"])
            elif plain(self.security[1]) != plain(doc["security"]):
                self.sink.error((), f"conflicting security blocks in {self.security[0]} and {source}",
                                with_path=False, mark=key_mark(doc, "security"))


def _finish(head: dict, merger: _Merger, own_security: bool) -> dict:
    out = MarkedMap()
    out.mark = getattr(head, "mark", None)
    out.key_marks.update(getattr(head, "key_marks", {}))
    for key, value in head.items():
        if key == "spec":
            continue
        out[key] = value
    if not own_security and merger.security is not None:
        out["security"] = merger.security[1]
    spec = MarkedMap()
    head_spec = head.get("spec")
    spec.mark = getattr(head_spec, "mark", None)
    if isinstance(head_spec, dict):
        spec.update(head_spec)
        spec.key_marks.update(getattr(head_spec, "key_marks", {}))
    if merger.finalizers:
        spec["finalizers"] = merger.finalizers
    crds = merger.crds
    if isinstance(head_spec, dict) and isinstance(head_spec.get("crds"), dict):
        crds.mark = getattr(head_spec["crds"], "mark", None)
    spec["crds"] = crds
    out["spec"] = spec
    return out


def _registry_location(item: dict, i: int, komposer: str, inputs: LoadInputs, sink: IssueSink) -> tuple[str | None, dict]:
    at = ("imports", "registry", i)
    base = item.get("url") or inputs.registry
    if not base:
        sink.error(at, "ORK_REGISTRY is not set and the entry has no url")
        return None, {}
    version = item.get("version") or "latest"
    suffix = f"katalogs/{item['name']}/{version}/katalog.yaml"
    location = base.rstrip("/") + "/" + suffix if is_url(base) else os.path.join(join_location(komposer, base), suffix)
    auth = item.get("auth")
    if not isinstance(auth, dict):
        return location, {}
    header = _authorization(auth, at, inputs.credentials, sink)
    if header is None or not _may_receive_credentials(location, at, inputs.registry, sink):
        return None, {}
    return location, {"Authorization": header}


def _authorization(auth: dict, at: tuple, credentials: Mapping[str, str], sink: IssueSink) -> str | None:
    """The Authorization header from `ORK_REGISTRY_*` variables, or None after reporting why not."""
    literal = [k for k in LITERAL_CREDENTIALS if k in auth]
    if literal:
        sink.error(at + ("auth", literal[0]), "literal credentials are not allowed; name an environment variable (fromEnv, usernameFromEnv, passwordFromEnv)")
        return None
    kind = auth.get("type")
    keys = {"bearer": ("fromEnv",), "basic": ("usernameFromEnv", "passwordFromEnv")}.get(str(kind))
    if keys is None:
        sink.error(at + ("auth", "type"), f'invalid value "{kind}" (allowed: bearer, basic)')
        return None
    values = []
    for key in keys:
        var = str(auth.get(key, ""))
        if not var.startswith(CREDENTIAL_PREFIX):
            sink.error(at + ("auth", key), f'"{var}" is not allowed: registry credentials are read only from '
                                          f'{CREDENTIAL_PREFIX}* variables')
            return None
        if credentials.get(var) is None or (kind == "bearer" and not credentials.get(var)):
            sink.error(at + ("auth",), f'environment variable "{var}" is not set')
            return None
        values.append(credentials[var])
    if kind == "bearer":
        return f"Bearer {values[0]}"
    return "Basic " + base64.b64encode(f"{values[0]}:{values[1]}".encode()).decode()


def _may_receive_credentials(location: str, at: tuple, configured: str, sink: IssueSink) -> bool:
    """Credentials go only to the ORK_REGISTRY host, over https (plain http on loopback only)."""
    if not is_url(location):
        return True   # a directory registry: nothing is sent
    try:
        target, home = origin(location), origin(configured) if is_url(configured) else None
    except ValueError:
        sink.error(at + ("url",), f"invalid URL: {redact_url(location)}")
        return False
    if home is None or target[1:] != home[1:]:
        sink.error(at + ("auth",), f"credentials are sent only to the ORK_REGISTRY host; "
                                   f"{redact_url(location)} is not on it")
        return False
    if target[0] != "https" and not is_loopback_host(target[1]):
        sink.error(at + ("auth",), f"credentials are sent only over https, not to {redact_url(location)}")
        return False
    return True


def _imported(location: str, sink: IssueSink, composed: Composed, at: tuple, missing: str,
              headers: Mapping[str, str] | None = None) -> dict | None:
    doc = read_document(location, sink, headers=headers, missing=missing, at=at)
    if doc is None:
        return None
    normalise(doc, sink)
    expand_crd_files(doc, location, sink)
    composed.files.append(location)
    if doc.get("kind") == "Komposer":
        sink.error(at, f"{location} is a Komposer; a Komposer cannot import a Komposer")
        return None
    if doc.get("kind") != "Katalog":
        sink.error(at, f'{location}: imported files must be kind: Katalog (got "{doc.get("kind")}")')
        return None
    if not _crds_of(doc):
        sink.error(at, f"empty pattern file: {location}")
        return None
    composed.parsed.append(doc)
    return doc


def compose(doc: dict, location: str, inputs: LoadInputs, sink: IssueSink) -> Composed:
    """Resolve a (normalised) document's imports into one document with the CRD union."""
    composed = Composed(doc=doc, files=[location], parsed=[doc])
    imports = doc.get("imports")
    if doc.get("kind") != "Komposer" or imports is None:
        composed.crd_sources = {key: location for key in _crds_of(doc)}
        return composed
    own_security = "security" in doc
    merger = _Merger(sink, check_security=not own_security)
    if not isinstance(imports, dict):
        return composed  # the schema reports the type
    sink.doc = doc
    registry = imports.get("registry") or []
    for i, item in enumerate(registry if isinstance(registry, list) else []):
        if not isinstance(item, dict) or not isinstance(item.get("name"), str):
            continue  # the schema reports it
        if not all(isinstance(item.get(k, ""), str) for k in ("url", "version")):
            continue  # the schema reports it
        if any(is_deferred(("imports", "registry", i), k) for k in item):
            continue  # an OCI or Katalog-reference import: the schema reports it as deferred
        where, headers = _registry_location(item, i, location, inputs, sink)
        if where is not None:
            imported = _imported(where, sink, composed, ("imports", "registry", i), "registry file not found", headers)
            if imported is not None:
                merger.add(imported, where)
    files = imports.get("files") or []
    for i, name in enumerate(files if isinstance(files, list) else []):
        if not isinstance(name, str):
            continue
        where = join_location(location, name)
        imported = _imported(where, sink, composed, ("imports", "files", i), "file not found")
        if imported is not None:
            merger.add(imported, where)
    own_spec = doc.get("spec")
    own_fins = own_spec.get("finalizers") if isinstance(own_spec, dict) else None
    if isinstance(own_fins, list):                      # spec.finalizers is the union (§14)
        merger.finalizers.extend(f for f in own_fins if f not in merger.finalizers)
    overrides = _crds_of(doc)
    for key, entry in overrides.items():
        if key in merger.crds:
            merger.crds[key] = deep_merge(merger.crds[key], entry)
        else:
            merger.crds[key] = entry
            merger.sources[key] = location
        mark = key_mark(overrides, key)
        if mark is not None and key not in merger.crds.key_marks:
            merger.crds.key_marks[key] = mark
    if own_security:
        merger.security = (location, doc["security"])
    composed.doc = _finish(doc, merger, own_security)
    composed.crd_sources = merger.sources
    return composed


def merge_files(parts: list[Composed], sink: IssueSink) -> Composed:
    """Several `-f` files: the CRD union (duplicates are errors), the first file's metadata."""
    if len(parts) == 1:
        return parts[0]
    merger = _Merger(sink)
    for part in parts:
        merger.add(part.doc, part.files[0])
    head = parts[0]
    for part in parts:
        for key, src in part.crd_sources.items():
            if merger.sources.get(key) == part.files[0]:
                merger.sources[key] = src
    merged = Composed(doc=_finish(head.doc, merger, False),
                      crd_sources=merger.sources,
                      files=[f for p in parts for f in p.files],
                      parsed=[d for p in parts for d in p.parsed],
                      raw=head.raw)
    return merged
