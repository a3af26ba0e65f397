"""Random values: randomAlphanumeric n, randomHex n, randomBase64 n (from `secrets`).

`randomAlphanumeric` and `randomHex` give n characters; `randomBase64` encodes n random bytes
(like `openssl rand -base64 n`), so its result is about 4n/3 characters. Values change on every
render, which is why the Katalog pairs them with `once: true`. n is bounded to keep a typo from
allocating megabytes.
"""
from __future__ import annotations

import base64
import secrets
import string
from collections.abc import Callable
from typing import Any

from orkestra.template.errors import TemplateEvalError
from orkestra.template.values import as_int

MAX_LENGTH = 4096
_ALPHANUMERIC = string.ascii_letters + string.digits


def _length(n: Any, fn: str) -> int:
    count = as_int(n, fn)
    if not 0 <= count <= MAX_LENGTH:
        raise TemplateEvalError(f"{fn}: length must be between 0 and {MAX_LENGTH}, got {count}")
    return count


def random_alphanumeric(n: Any) -> str:
    return "".join(secrets.choice(_ALPHANUMERIC) for _ in range(_length(n, "randomAlphanumeric")))


def random_hex(n: Any) -> str:
    count = _length(n, "randomHex")
    return secrets.token_hex((count + 1) // 2)[:count]


def random_base64(n: Any) -> str:
    return base64.b64encode(secrets.token_bytes(_length(n, "randomBase64"))).decode("ascii")


FUNCTIONS: dict[str, Callable[..., Any]] = {
    "randomAlphanumeric": random_alphanumeric, "randomHex": random_hex,
    "randomBase64": random_base64,
}
