"""The lexer: template source to a flat list of tokens, Go text/template rules.

Text outside `{{ … }}` becomes one `text` token. Trim markers (`{{- ` and ` -}}`, the hyphen
always separated from the action by white space, as in Go, so `{{-3}}` is the number -3) are
applied here, by trimming the neighbouring text, and comments (`{{/* … */}}`, which must fill
their whole action) produce no token at all. Inside an action, spaces are kept as `space` tokens
because the parser needs them: `$x.a` is one chained operand, `$x .a` two operands. Literal
values (strings with Go escapes, raw strings, runes, numbers, bools, nil) are decoded here, so
the parser and the compiler only ever see Python values.
"""
from __future__ import annotations

import re
from typing import Any, NamedTuple

from orkestra.template.errors import TemplateSyntaxError

KEYWORDS = frozenset({"if", "else", "end", "range", "with", "break", "continue",
                      "define", "template", "block"})
_SPACE = " \t\r\n"
_NUMBER = re.compile(
    r"[+-]?(?:0[xX][0-9a-fA-F_]+|0[bB][01_]+|0[oO][0-7_]+"
    r"|(?:\d[\d_]*(?:\.[\d_]*)?|\.\d[\d_]*)(?:[eE][+-]?\d+)?)")
_IDENT = re.compile(r"[^\W\d]\w*")
_VAR = re.compile(r"\$\w*")
_SIMPLE_ESCAPES = {"a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t",
                   "v": "\v", "\\": "\\", "'": "'", '"': '"'}


class Token(NamedTuple):
    kind: str      # text left right space ident keyword field dot var string number bool nil
    #                pipe lparen rparen declare assign comma eof
    value: Any
    pos: int       # offset in the source, for error positions


def position(src: str, pos: int) -> tuple[int, int]:
    """1-based (line, column) of an offset."""
    line = src.count("\n", 0, pos) + 1
    col = pos - (src.rfind("\n", 0, pos) + 1) + 1
    return line, col


def syntax_error(src: str, pos: int, reason: str) -> TemplateSyntaxError:
    line, col = position(src, pos)
    return TemplateSyntaxError(reason, line, col)


def tokenize(src: str) -> list[Token]:
    """All tokens of a template, ending with an `eof` token."""
    tokens: list[Token] = []
    pos = 0
    trim_next = False
    n = len(src)
    while True:
        start = src.find("{{", pos)
        text = src[pos:] if start < 0 else src[pos:start]
        trim_left = start >= 0 and src.startswith("{{-", start) and start + 3 < n and src[start + 3] in _SPACE
        if trim_next:
            text = text.lstrip(_SPACE)
        if trim_left:
            text = text.rstrip(_SPACE)
        if text:
            tokens.append(Token("text", text, pos))
        if start < 0:
            tokens.append(Token("eof", None, n))
            return tokens
        inner = start + (4 if trim_left else 2)
        if src.startswith("/*", inner):
            pos, trim_next = _skip_comment(src, start, inner)
            continue
        tokens.append(Token("left", trim_left, start))
        pos, trim_next = _lex_action(src, inner, tokens)


def _skip_comment(src: str, start: int, inner: int) -> tuple[int, bool]:
    close = src.find("*/", inner + 2)
    if close < 0:
        raise syntax_error(src, start, "unclosed comment")
    after = close + 2
    if src.startswith("}}", after):
        return after + 2, False
    if src.startswith(" -}}", after):
        return after + 4, True
    raise syntax_error(src, start, "comment ends before closing delimiter")


def _lex_action(src: str, pos: int, tokens: list[Token]) -> tuple[int, bool]:
    """Tokens of one action up to its closing delimiter; returns (next offset, trim right)."""
    n = len(src)
    paren_depth = 0
    while True:
        if pos >= n:
            raise syntax_error(src, pos, "unclosed action")
        c = src[pos]
        if src.startswith("}}", pos):
            if paren_depth:
                raise syntax_error(src, pos, "unclosed left paren")
            tokens.append(Token("right", False, pos))
            return pos + 2, False
        if c in _SPACE:
            end = pos
            while end < n and src[end] in _SPACE:
                end += 1
            if src.startswith("-}}", end):
                if paren_depth:
                    raise syntax_error(src, pos, "unclosed left paren")
                tokens.append(Token("right", True, end))
                return end + 3, True
            tokens.append(Token("space", None, pos))
            pos = end
        elif c == "|":
            tokens.append(Token("pipe", None, pos))
            pos += 1
        elif c == "(":
            paren_depth += 1
            tokens.append(Token("lparen", None, pos))
            pos += 1
        elif c == ")":
            paren_depth -= 1
            if paren_depth < 0:
                raise syntax_error(src, pos, "unexpected right paren")
            tokens.append(Token("rparen", None, pos))
            pos += 1
        elif c == ",":
            tokens.append(Token("comma", None, pos))
            pos += 1
        elif c == ":":
            if not src.startswith(":=", pos):
                raise syntax_error(src, pos, "expected :=")
            tokens.append(Token("declare", None, pos))
            pos += 2
        elif c == "=":
            tokens.append(Token("assign", None, pos))
            pos += 1
        elif c == '"':
            pos = _lex_quoted(src, pos, tokens)
        elif c == "`":
            close = src.find("`", pos + 1)
            if close < 0:
                raise syntax_error(src, pos, "unterminated raw quoted string")
            tokens.append(Token("string", src[pos + 1:close], pos))
            pos = close + 1
        elif c == "'":
            pos = _lex_rune(src, pos, tokens)
        elif c == "$":
            m = _VAR.match(src, pos)
            assert m is not None      # `$` alone matches
            tokens.append(Token("var", m.group(), pos))
            pos = m.end()
        elif c == "." and pos + 1 < n and (src[pos + 1].isalpha() or src[pos + 1] == "_"):
            m = _IDENT.match(src, pos + 1)
            assert m is not None      # the branch test saw a letter or `_`
            tokens.append(Token("field", m.group(), pos))
            pos = m.end()
        elif c.isdigit() or (c in "+-." and pos + 1 < n and (src[pos + 1].isdigit()
                                                          or (src[pos + 1] == "." and c != "."))):
            pos = _lex_number(src, pos, tokens)
        elif c == ".":
            tokens.append(Token("dot", None, pos))
            pos += 1
        elif c.isalpha() or c == "_":
            m = _IDENT.match(src, pos)
            assert m is not None      # the branch test saw a letter or `_`
            word = m.group()
            if word in ("true", "false"):
                tokens.append(Token("bool", word == "true", pos))
            elif word == "nil":
                tokens.append(Token("nil", None, pos))
            elif word in KEYWORDS:
                tokens.append(Token("keyword", word, pos))
            else:
                tokens.append(Token("ident", word, pos))
            pos = m.end()
        else:
            raise syntax_error(src, pos, f"unexpected {c!r} in action")


def _lex_number(src: str, pos: int, tokens: list[Token]) -> int:
    m = _NUMBER.match(src, pos)
    end = m.end() if m else pos
    if not m or (end < len(src) and (src[end].isalnum() or src[end] in "._")):
        stop = end
        while stop < len(src) and (src[stop].isalnum() or src[stop] in "._+-"):
            stop += 1
        raise syntax_error(src, pos, f"bad number syntax: {src[pos:max(stop, pos + 1)]!r}")
    text = m.group().replace("_", "")
    body = text.lstrip("+-")
    try:
        if body[:2].lower() in ("0x", "0b", "0o"):
            value: int | float = int(text, 0)
        elif any(ch in body for ch in ".eE"):
            value = float(text)
        elif len(body) > 1 and body[0] == "0":
            value = int(text, 8)
        else:
            value = int(text)
    except ValueError:
        raise syntax_error(src, pos, f"bad number syntax: {m.group()!r}") from None
    tokens.append(Token("number", value, pos))
    return end


def _decode_escape(src: str, i: int, start: int) -> tuple[str, int]:
    """Decode the Go escape at src[i] == '\\'; returns (text, next offset)."""
    if i + 1 >= len(src):
        raise syntax_error(src, start, "unterminated quoted string")
    e = src[i + 1]
    if e in _SIMPLE_ESCAPES:
        return _SIMPLE_ESCAPES[e], i + 2
    widths = {"x": 2, "u": 4, "U": 8}
    if e in widths:
        digits = src[i + 2:i + 2 + widths[e]]
        if len(digits) != widths[e] or not all(ch in "0123456789abcdefABCDEF" for ch in digits):
            raise syntax_error(src, i, f"invalid escape \\{e}{digits}")
        code = int(digits, 16)
        if code > 0x10FFFF:
            raise syntax_error(src, i, f"invalid escape \\{e}{digits}")
        return chr(code), i + 2 + widths[e]
    if e in "01234567":
        digits = src[i + 1:i + 4]
        if len(digits) != 3 or not all(ch in "01234567" for ch in digits) or int(digits, 8) > 255:
            raise syntax_error(src, i, f"invalid escape \\{digits}")
        return chr(int(digits, 8)), i + 4
    raise syntax_error(src, i, f"unknown escape sequence \\{e}")


def _lex_quoted(src: str, pos: int, tokens: list[Token]) -> int:
    out: list[str] = []
    i = pos + 1
    while True:
        if i >= len(src) or src[i] == "\n":
            raise syntax_error(src, pos, "unterminated quoted string")
        c = src[i]
        if c == '"':
            tokens.append(Token("string", "".join(out), pos))
            return i + 1
        if c == "\\":
            text, i = _decode_escape(src, i, pos)
            out.append(text)
        else:
            out.append(c)
            i += 1


def _lex_rune(src: str, pos: int, tokens: list[Token]) -> int:
    """A Go rune literal ('a', '\\n') is the integer code point."""
    i = pos + 1
    if i < len(src) and src[i] == "\\":
        text, i = _decode_escape(src, i, pos)
    elif i < len(src) and src[i] not in "'\n":
        text, i = src[i], i + 1
    else:
        raise syntax_error(src, pos, "malformed character constant")
    if i >= len(src) or src[i] != "'":
        raise syntax_error(src, pos, "unterminated character constant")
    tokens.append(Token("number", ord(text), pos))
    return i + 1
