"""The parser: tokens to the AST of `nodes.py`, by recursive descent over Go's grammar.

Besides the shape of actions and control structures, the parser owns *scoping*: variables
live until the `end` of the control structure that declared them (as in Go), an undefined
`$x` or an assignment to one is a syntax error, and every declaration gets its own frame slot
so the compiled template never looks variables up by name. `break`/`continue` are accepted only
inside a `range` body. Function names are resolved later, by the compiler. Nesting is limited
to MAX_DEPTH so that hostile input fails with a syntax error instead of exhausting the stack.
"""
from __future__ import annotations

from orkestra.template.lexer import Token, syntax_error, tokenize
from orkestra.template.nodes import (
    Action, Break, Chain, Command, Continue, Dot, FuncName, If, Literal, Node, Operand,
    ParsedTemplate, Pipeline, Range, SubPipeline, Text, Variable, With,
)

_CONTROL: dict[str, type[If | With | Range]] = {"if": If, "with": With, "range": Range}
MAX_DEPTH = 100  # nested controls and parentheses; deeper input is surely generated garbage


def parse(src: str) -> ParsedTemplate:
    """Parse a template. Raises TemplateSyntaxError naming the line and column."""
    return _Parser(src).parse()


class _Parser:
    def __init__(self, src: str) -> None:
        self.src = src
        self.tokens = tokenize(src)
        self.i = 0
        self.scopes: list[dict[str, int]] = [{"$": 0}]
        self.slot_count = 1
        self.range_depth = 0
        self.depth = 0
        self.functions: set[str] = set()

    # -- token helpers -------------------------------------------------------------------
    def peek(self) -> Token:
        return self.tokens[self.i]

    def next(self) -> Token:
        tok = self.tokens[self.i]
        self.i += 1
        return tok

    def skip_space(self) -> bool:
        had = False
        while self.tokens[self.i].kind == "space":
            self.i += 1
            had = True
        return had

    def error(self, tok: Token, reason: str) -> Exception:
        return syntax_error(self.src, tok.pos, reason)

    def expect_right(self, context: str) -> None:
        self.skip_space()
        tok = self.next()
        if tok.kind != "right":
            raise self.error(tok, f"unexpected {_describe(tok)} in {context}")

    # -- structure -----------------------------------------------------------------------
    def parse(self) -> ParsedTemplate:
        nodes, stop, tok = self.parse_list()
        if stop != "eof":
            raise self.error(tok, f"unexpected {{{{{stop}}}}}")
        return ParsedTemplate(tuple(nodes), self.slot_count, frozenset(self.functions))

    def parse_list(self) -> tuple[list[Node], str, Token]:
        """Nodes up to `{{end}}`, `{{else …` or EOF; returns (nodes, stop word, stop token)."""
        nodes: list[Node] = []
        while True:
            tok = self.next()
            if tok.kind == "text":
                nodes.append(Text(tok.value))
                continue
            if tok.kind == "eof":
                return nodes, "eof", tok
            # tok is `left`
            self.skip_space()
            head = self.peek()
            if head.kind == "keyword":
                word = head.value
                self.next()
                if word == "end":
                    self.expect_right("end")
                    return nodes, "end", head
                if word == "else":
                    return nodes, "else", head
                if word in _CONTROL:
                    nodes.append(self.parse_control(word, head))
                elif word in ("break", "continue"):
                    if not self.range_depth:
                        raise self.error(head, f"{{{{{word}}}}} outside {{{{range}}}}")
                    self.expect_right(word)
                    nodes.append(Break() if word == "break" else Continue())
                else:
                    raise self.error(head, f"{{{{{word}}}}} is not supported (one template per string)")
            else:
                nodes.append(Action(self.parse_pipeline("command", decl_limit=1)))

    def enter(self, tok: Token) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise self.error(tok, f"template nested too deeply (more than {MAX_DEPTH} levels)")

    def parse_control(self, word: str, head: Token) -> Node:
        self.enter(head)
        self.scopes.append({})
        pipeline = self.parse_pipeline(word, decl_limit=2 if word == "range" else 1)
        if word == "range":
            self.range_depth += 1
        body, stop, tok = self.parse_list()
        if word == "range":
            self.range_depth -= 1
        orelse: tuple[Node, ...] | None = None
        if stop == "else":
            self.skip_space()
            nxt = self.peek()
            if word != "range" and nxt.kind == "keyword" and nxt.value == word:
                # `else if` / `else with`: a nested control that shares our `end`.
                self.next()
                orelse = (self.parse_control(word, nxt),)
            else:
                self.expect_right("else")
                else_nodes, stop, tok = self.parse_list()
                if stop != "end":
                    raise self.error(tok, _missing_end(word, stop))
                orelse = tuple(else_nodes)
        elif stop != "end":
            raise self.error(tok if stop != "eof" else head, _missing_end(word, stop))
        self.scopes.pop()
        self.depth -= 1
        return _CONTROL[word](pipeline, tuple(body), orelse)

    # -- pipelines -----------------------------------------------------------------------
    def lookup(self, tok: Token) -> int:
        for scope in reversed(self.scopes):
            if tok.value in scope:
                return scope[tok.value]
        raise self.error(tok, f"undefined variable \"{tok.value}\"")

    def parse_declaration(self, decl_limit: int) -> tuple[list[Token], str | None]:
        """Leading `$x :=`, `$x =` or (range) `$i, $v :=`; returns (variables, operator)."""
        start = self.i
        names: list[Token] = []
        while True:
            self.skip_space()
            tok = self.peek()
            if tok.kind != "var":
                break
            self.next()
            self.skip_space()
            op = self.peek()
            if op.kind in ("declare", "assign"):
                names.append(tok)
                self.next()
                if len(names) > decl_limit:
                    raise self.error(tok, "too many declarations in command")
                return names, op.kind
            if op.kind == "comma" and not names:
                if decl_limit < 2:
                    raise self.error(op, "two variables can only be declared in {{range}}")
                names.append(tok)
                self.next()
                continue
            break
        self.i = start
        return [], None

    def parse_pipeline(self, context: str, decl_limit: int) -> Pipeline:
        """A pipeline ending at `}}` (consumed) or, for context "paren", at `)` (consumed)."""
        self.skip_space()
        first = self.peek()
        names, op = self.parse_declaration(decl_limit) if context != "paren" else ([], None)
        commands: list[Command] = []
        while True:
            commands.append(self.parse_command(context))
            tok = self.next()
            if tok.kind == "pipe":
                continue
            break
        end_kind = "rparen" if context == "paren" else "right"
        if tok.kind != end_kind:
            raise self.error(tok, f"unexpected {_describe(tok)} in {context}")
        if op == "declare":
            slots = []
            for name in names:
                self.scopes[-1][name.value] = self.slot_count
                slots.append(self.slot_count)
                self.slot_count += 1
        else:
            slots = [self.lookup(name) for name in names]
        source = self.src[first.pos:tok.pos].strip()
        return Pipeline(tuple(commands), tuple(slots), source, first.pos)

    def parse_command(self, context: str) -> Command:
        operands: list[Operand] = []
        start = self.peek()
        while True:
            had_space = self.skip_space()
            tok = self.peek()
            if tok.kind in ("pipe", "right", "rparen"):
                break
            if operands and not had_space:
                raise self.error(tok, f"missing space before {_describe(tok)}")
            operands.append(self.parse_operand())
        if not operands:
            raise self.error(self.peek() if start.kind == "space" else start, f"missing value for {context}")
        return Command(tuple(operands), start.pos)

    def parse_operand(self) -> Operand:
        tok = self.next()
        kind = tok.kind
        chainable = True
        if kind in ("number", "string", "bool"):
            term: Operand = Literal(tok.value)
            chainable = False
        elif kind == "nil":
            term = Literal(None)
            chainable = False
        elif kind == "dot":
            term = Dot()
            chainable = False
        elif kind == "field":
            self.i -= 1
            term = Dot()
        elif kind == "var":
            term = Variable(tok.value, self.lookup(tok))
        elif kind == "ident":
            self.functions.add(tok.value)
            term = FuncName(tok.value)
            chainable = False
        elif kind == "lparen":
            self.enter(tok)
            term = SubPipeline(self.parse_pipeline("paren", decl_limit=0))
            self.depth -= 1
        else:
            raise self.error(tok, f"unexpected {_describe(tok)} in operand")
        fields: list[str] = []
        while self.peek().kind == "field":
            if not chainable:
                raise self.error(self.peek(), f"unexpected {_describe(self.peek())} after {_describe(tok)}")
            fields.append(self.next().value)
        return Chain(term, tuple(fields)) if fields else term


def _missing_end(word: str, stop: str) -> str:
    if stop == "eof":
        return f"unexpected EOF: missing {{{{end}}}} for {{{{{word}}}}}"
    return f"unexpected {{{{{stop}}}}}: expected {{{{end}}}} for {{{{{word}}}}}"


def _describe(tok: Token) -> str:
    names = {"right": "\"}}\"", "left": "\"{{\"", "pipe": "\"|\"", "lparen": "\"(\"",
             "rparen": "\")\"", "comma": "\",\"", "declare": "\":=\"", "assign": "\"=\"",
             "eof": "end of template", "space": "space", "dot": "\".\""}
    if tok.kind in names:
        return names[tok.kind]
    if tok.kind == "field":
        return f"field .{tok.value}"
    if tok.kind == "keyword":
        return f"keyword {tok.value!r}"
    if tok.kind == "string":
        return f"string {tok.value!r}"
    return f"{tok.kind} {tok.value!r}" if tok.value is not None else tok.kind
