"""Reading fields of runtime documents whatever their type (pure).

A runtime of another version, or with a bug, may send a field of an unexpected type; read
through these, such a field shows as empty instead of failing a page or a poll.
"""
from __future__ import annotations

from typing import Any


def as_int(value: Any) -> int:
    return int(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else 0


def as_dict(value: Any) -> dict:
    return value if isinstance(value, dict) else {}


def as_list(value: Any) -> list:
    return value if isinstance(value, list) else []


def as_text(value: Any) -> str:
    return str(value) if isinstance(value, (str, int, float)) and not isinstance(value, bool) else ""
