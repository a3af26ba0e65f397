"""Reading fields of runtime documents whatever their type (pure).

A runtime of another version, or with a bug, may send a field of an unexpected type; read
through these, such a field shows as empty instead of failing a page or a poll.
"""
from __future__ import annotations

import math
from typing import Any


def as_number(value: Any) -> float | int:
    """A finite number, else 0 (JSON as Python reads it may hold NaN and Infinity)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return 0
    return value if math.isfinite(value) else 0


def as_int(value: Any) -> int:
    return int(as_number(value))


def as_dict(value: Any) -> dict:
    return value if isinstance(value, dict) else {}


def as_list(value: Any) -> list:
    return value if isinstance(value, list) else []


def as_text(value: Any) -> str:
    return str(value) if isinstance(value, (str, int, float)) and not isinstance(value, bool) else ""
