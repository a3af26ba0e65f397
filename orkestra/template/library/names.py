"""Kubernetes name functions: `truncateName n s` and `dnsLabel s`.

`truncate_name` is the single implementation of the default-name rule of docs/katalog.md#keys-per-type (a name
longer than the limit is cut to limit-6 characters, then `-` and the first 5 hex digits of the
SHA-256 of the full name), so the reconciler's default names and the template function agree.
"""
from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from typing import Any

from orkestra.template.errors import TemplateEvalError
from orkestra.template.values import as_int, as_str

_INVALID_LABEL_CHARS = re.compile(r"[^a-z0-9-]")
_HASH_SUFFIX = 6  # "-" + 5 hex digits


def truncate_name(name: str, limit: int = 63) -> str:
    """`name` unchanged when it fits, else cut with a hash suffix (§7.2)."""
    if len(name) <= limit:
        return name
    if limit <= _HASH_SUFFIX:
        raise TemplateEvalError(f"truncateName: limit {limit} leaves no room for the hash suffix")
    digest = hashlib.sha256(name.encode()).hexdigest()[:5]
    return f"{name[:limit - _HASH_SUFFIX]}-{digest}"


def truncate_name_fn(n: Any, s: Any) -> str:
    return truncate_name(as_str(s), as_int(n, "truncateName"))


def dns_label(s: Any) -> str:
    """Lowercase, characters outside [a-z0-9-] become `-`, at most 63, no leading/trailing `-`."""
    label = _INVALID_LABEL_CHARS.sub("-", as_str(s).lower()).strip("-")
    return label[:63].rstrip("-")


FUNCTIONS: dict[str, Callable[..., Any]] = {"truncateName": truncate_name_fn, "dnsLabel": dns_label}
