"""Turning raw CR values into what conditions compare (docs/katalog.md#conditions).

Conditions compare strings unless told otherwise, so every raw value has exactly one string
form: absent and null are `""`, whole floats lose their `.0`, booleans are lower-case, lists and
maps are compact JSON. These are the template printing rules, so the string form reuses the
template engine's printer: a field and `{{ .field }}` always compare alike. `valueType` and the
numeric operators then parse those strings with the strict parsers below; a parser returns `UNPARSEABLE` instead of raising, because a value that
does not parse is an ordinary "false", never an error.
"""
from __future__ import annotations

import re
from typing import Any

from orkestra.conditions.paths import MISSING
from orkestra.template.values import kind_of, to_text

VALUE_TYPES = ("string", "int", "float", "bool")


class _Unparseable:
    def __repr__(self) -> str:
        return "UNPARSEABLE"


UNPARSEABLE: Any = _Unparseable()

_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
_INTEGER = re.compile(r"[+-]?\d+")
_TRUE = {"1", "t", "T", "true", "TRUE", "True"}       # Go's strconv.ParseBool
_FALSE = {"0", "f", "F", "false", "FALSE", "False"}


def stringify(value: Any) -> str:
    """The §8 string form of a raw value: the template printing rules (§9.1), absent as `""`."""
    return "" if value is MISSING else to_text(value)


def type_of(value: Any) -> str:
    """`string`, `number`, `bool`, `list`, `map` or `null` (absent counts as null)."""
    return "null" if value is MISSING else kind_of(value)


def is_empty(value: Any) -> bool:
    """Absent, null, `""`, `[]` and `{}` are empty; `0` and `false` are values."""
    return value is None or value is MISSING or (isinstance(value, (str, list, dict)) and not value)


def parse_typed(text: str, value_type: str) -> Any:
    """Parse a §8 string as `valueType`; empty is the type's zero value; else UNPARSEABLE."""
    text = text.strip() if value_type != "string" else text
    if value_type == "string":
        return text
    if value_type == "bool":
        if text == "":
            return False
        return True if text in _TRUE else False if text in _FALSE else UNPARSEABLE
    if text == "":
        return 0 if value_type == "int" else 0.0
    if value_type == "int":
        if _INTEGER.fullmatch(text):
            return int(text)
        if _NUMBER.fullmatch(text) and float(text).is_integer():
            return int(float(text))
        return UNPARSEABLE
    return float(text) if _NUMBER.fullmatch(text) else UNPARSEABLE
