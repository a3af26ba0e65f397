"""What of a cached object the HTTP API may show, and which `?field=` values it accepts.

Secret payloads never leave through the API (docs/security.md): every view and every `?field=`
lookup reads the object through `served_view`, which drops a Secret's `data` and `stringData`
and the last-applied annotation that `kubectl apply` fills with a copy of them. `?field=` takes
a dot path only: templates there would run caller-chosen code on every cached object, so they
are refused with a 400 (docs/security.md explains the choice).
"""
from __future__ import annotations

from typing import Any

from orkestra.conditions import resolve_field
from orkestra.conditions.paths import parse_path
from orkestra.katalog.model import CrdEntry
from orkestra.template import is_template

PAYLOAD_KEYS = ("data", "stringData")
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
MAX_FIELD_LENGTH = 256


class FieldRefused(ValueError):
    """A `?field=` value the API will not resolve; the message is for the caller."""


def is_secret_entry(entry: CrdEntry) -> bool:
    """The entry watches core Secrets, however its Katalog spells the kind: the resource
    (`secrets` in the core group) decides, since that is what the informer lists."""
    return entry.api.group == "" and (entry.api.plural == "secrets" or entry.api.kind == "Secret")


def served_view(entry: CrdEntry, obj: dict) -> dict:
    """`obj` as the API may show it: a shallow copy without payloads when it is a Secret."""
    if not (is_secret_entry(entry) or obj.get("kind") == "Secret"):
        return obj
    view = {k: v for k, v in obj.items() if k not in PAYLOAD_KEYS}
    meta = obj.get("metadata")
    if isinstance(meta, dict) and LAST_APPLIED in (meta.get("annotations") or {}):
        annotations = {k: v for k, v in meta["annotations"].items() if k != LAST_APPLIED}
        view["metadata"] = {**meta, "annotations": annotations}
    return view


def check_field(entry: CrdEntry, field: str) -> str:
    """The stripped `field` if the API resolves it; else `FieldRefused` saying why."""
    field = field.strip()
    if not field:
        raise FieldRefused("expected a dot path such as spec.host")
    if len(field) > MAX_FIELD_LENGTH:
        raise FieldRefused(f"longer than {MAX_FIELD_LENGTH} characters")
    if is_template(field):
        raise FieldRefused("templates are not accepted here; give a dot path such as spec.host")
    segments = parse_path(field)   # PathError (an OrkestraError) names the broken position
    if is_secret_entry(entry) and segments and segments[0].key in PAYLOAD_KEYS:
        raise FieldRefused(f"the {segments[0].key} of a Secret is never served")
    return field


def field_values(entry: CrdEntry, items: list[dict], field: str, key: Any) -> dict[str, str]:
    """`key(obj)` → the §8 string value of the checked `field` in each object's served view."""
    return {key(obj): resolve_field(served_view(entry, obj), field) for obj in items}
