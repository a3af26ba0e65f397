"""Go's `fmt` for templates: `printf` verbs, `print`/`println` spacing and `%q` quoting.

Verbs: `%s %v %d %q %f %F %e %g %x %X %o %b %c %t %%`, flags `- + 0 space #`, widths and
precisions (`%-10s`, `%05d`, `%.2f`, `%8.3f`). Values print with the §9.1 rules (nil empty,
lists/maps as JSON), not Go's `map[a:1]`. Where Go would write `%!d(string=x)` or
`%!d(MISSING)` into the output, this raises TemplateEvalError instead: a broken format is an
authoring bug that should surface, not a value that should be applied to a cluster. `%q` always
quotes the printed value as a string (Go quotes an integer as a rune). Widths and precisions are
capped at MAX_WIDTH so a format taken from CR data cannot allocate gigabytes.
"""
from __future__ import annotations

import re
from typing import Any

from orkestra.template.errors import TemplateEvalError
from orkestra.template.values import format_float, is_number, to_text, type_name

MAX_WIDTH = 4096
_SPEC = re.compile(r"%([-+# 0]*)(\d+)?(?:\.(\d*))?(.)?", re.S)


def go_quote(s: str) -> str:
    """strconv.Quote: a double-quoted Go string literal."""
    out = ['"']
    for ch in s:
        code = ord(ch)
        if ch == '"' or ch == "\\":
            out.append("\\" + ch)
        elif ch in "\a\b\f\n\r\t\v":
            out.append({"\a": "\\a", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r",
                        "\t": "\\t", "\v": "\\v"}[ch])
        elif ch.isprintable():
            out.append(ch)
        elif code < 0x80:
            out.append(f"\\x{code:02x}")
        elif code < 0x10000:
            out.append(f"\\u{code:04x}")
        else:
            out.append(f"\\U{code:08x}")
    out.append('"')
    return "".join(out)


def sprint(*args: Any) -> str:
    """fmt.Sprint: a space between operands when neither side is a string."""
    parts: list[str] = []
    for i, a in enumerate(args):
        if i and not isinstance(a, str) and not isinstance(args[i - 1], str):
            parts.append(" ")
        parts.append(to_text(a))
    return "".join(parts)


def sprintln(*args: Any) -> str:
    """fmt.Sprintln: operands always separated by spaces, then a newline."""
    return " ".join(to_text(a) for a in args) + "\n"


def _pad(text: str, flags: str, width: int | None) -> str:
    if width is None or len(text) >= width:
        return text
    return text.ljust(width) if "-" in flags else text.rjust(width)


def _integer(v: Any, verb: str) -> int:
    if v is None:
        return 0
    if is_number(v):
        if isinstance(v, float):
            if not v.is_integer():
                raise TemplateEvalError(f"printf: %{verb} needs an integer, got {format_float(v)}")
            return int(v)
        return v
    raise TemplateEvalError(f"printf: %{verb} needs an integer, got {type_name(v)}")


def _real(v: Any, verb: str) -> float:
    if v is None:
        return 0.0
    if is_number(v):
        return float(v)
    raise TemplateEvalError(f"printf: %{verb} needs a number, got {type_name(v)}")


def _number_spec(flags: str, width: int | None, prec: str | None, kind: str) -> str:
    spec = "<" if "-" in flags else ""
    spec += "+" if "+" in flags else (" " if " " in flags else "")
    if "#" in flags and kind in "xXob":
        spec += "#"
    if "0" in flags and "-" not in flags:
        spec += "0"
    if width is not None:
        spec += str(width)
    if prec is not None:
        spec += "." + (prec or "0")
    return spec + kind


def _format_one(verb: str, flags: str, width: int | None, prec: str | None, v: Any) -> str:
    if verb in "sv":
        text = to_text(v)
        if prec is not None:
            text = text[:int(prec or 0)]
        return _pad(text, flags, width)
    if verb == "q":
        return _pad(go_quote(to_text(v)), flags, width)
    if verb == "t":
        if not isinstance(v, bool):
            raise TemplateEvalError(f"printf: %t needs a bool, got {type_name(v)}")
        return _pad("true" if v else "false", flags, width)
    if verb == "d":
        return format(_integer(v, verb), _number_spec(flags, width, None, "d"))
    if verb in "xX" and isinstance(v, str):
        text = v.encode().hex()
        return _pad(text.upper() if verb == "X" else text, flags, width)
    if verb in "xXob":
        return format(_integer(v, verb), _number_spec(flags, width, None, verb))
    if verb == "c":
        return _pad(chr(_integer(v, verb)), flags, width)
    if verb in "fFe":
        spec = _number_spec(flags, width, "6" if prec is None else prec, verb.lower())
        return format(_real(v, verb), spec)
    if verb == "g":
        f = _real(v, verb)
        text = format(f, _number_spec(flags, None, prec, "g")) if prec is not None else format_float(f)
        return _pad(text, flags, width)
    raise TemplateEvalError(f"printf: unsupported verb %{verb}")


def sprintf(fmt: Any, *args: Any) -> str:
    """fmt.Sprintf with the verbs of the module docstring."""
    fmt = to_text(fmt)
    out: list[str] = []
    pos = 0
    arg_index = 0
    while True:
        i = fmt.find("%", pos)
        if i < 0:
            out.append(fmt[pos:])
            break
        out.append(fmt[pos:i])
        m = _SPEC.match(fmt, i)
        assert m is not None          # every group after `%` is optional
        flags, width, prec, verb = m.group(1), m.group(2), m.group(3), m.group(4)
        if verb is None:
            raise TemplateEvalError("printf: format ends with an incomplete verb")
        pos = m.end()
        if verb == "%":
            out.append("%")
            continue
        if (width and int(width) > MAX_WIDTH) or (prec and int(prec) > MAX_WIDTH):
            raise TemplateEvalError(f"printf: width or precision above {MAX_WIDTH}")
        if arg_index >= len(args):
            raise TemplateEvalError(f"printf: missing argument for %{verb}")
        out.append(_format_one(verb, flags, int(width) if width else None, prec, args[arg_index]))
        arg_index += 1
    if arg_index < len(args):
        raise TemplateEvalError(f"printf: {len(args) - arg_index} extra argument(s) for the format")
    return "".join(out)
