"""Encoding: b64enc (toBase64), b64dec (fromBase64), sha256sum, uuidv4.

Strings are encoded as UTF-8. `b64dec` accepts standard and URL-safe alphabets, with or without
padding, and fails with an evaluation error on anything else or on non-UTF-8 content.
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import uuid
from collections.abc import Callable
from typing import Any

from orkestra.template.errors import TemplateEvalError
from orkestra.template.values import as_str


def b64enc(s: Any) -> str:
    return base64.b64encode(as_str(s).encode()).decode("ascii")


def b64dec(s: Any) -> str:
    text = as_str(s).strip()
    padded = text + "=" * (-len(text) % 4)
    try:
        raw = base64.b64decode(padded.replace("-", "+").replace("_", "/"), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise TemplateEvalError(f"b64dec: invalid base64 input: {exc}") from None
    try:
        return raw.decode()
    except UnicodeDecodeError:
        raise TemplateEvalError("b64dec: the decoded bytes are not UTF-8 text") from None


SHA256SUM_CHARS = 8


def sha256sum(s: Any) -> str:
    """The first 8 hex characters of the SHA-256 digest, as the Go Orkestra prints them: names
    derived from it must match the ones Katalogs written for Go produce (issue 13 C17)."""
    return hashlib.sha256(as_str(s).encode()).hexdigest()[:SHA256SUM_CHARS]


def uuidv4() -> str:
    return str(uuid.uuid4())


FUNCTIONS: dict[str, Callable[..., Any]] = {
    "b64enc": b64enc, "toBase64": b64enc, "b64dec": b64dec, "fromBase64": b64dec,
    "sha256sum": sha256sum, "uuidv4": uuidv4,
}
