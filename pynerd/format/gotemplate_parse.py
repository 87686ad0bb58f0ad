"""Recursive-descent parser of Go's text/template syntax.

A hand-written port of the structure of Go's ``text/template/parse``, so that
what parses, what does not, and the wording of syntax errors
(``template: :1: unexpected "}" in operand``) match Docker's.
"""

from __future__ import annotations

from collections.abc import Callable, Container

from pynerd.format.gotemplate_fmt import go_quote
from pynerd.format.gotemplate_lex import (
    T_ASSIGN,
    T_BLOCK,
    T_BOOL,
    T_BREAK,
    T_CHAR,
    T_CHARCONST,
    T_COMPLEX,
    T_CONTINUE,
    T_DECLARE,
    T_DEFINE,
    T_DOT,
    T_ELSE,
    T_END,
    T_EOF,
    T_ERROR,
    T_FIELD,
    T_IDENT,
    T_IF,
    T_KEYWORD,
    T_LEFT,
    T_LPAREN,
    T_NIL,
    T_NUMBER,
    T_PIPE,
    T_RANGE,
    T_RAWSTRING,
    T_RIGHT,
    T_RPAREN,
    T_SPACE,
    T_STRING,
    T_TEMPLATE,
    T_TEXT,
    T_VARIABLE,
    T_WITH,
    Token,
    lex,
    number,
    unquote,
)
from pynerd.format.gotemplate_nodes import (
    ActionNode,
    BoolNode,
    BreakNode,
    ChainNode,
    CommandNode,
    ContinueNode,
    DotNode,
    ElseNode,
    EndNode,
    FieldNode,
    IdentifierNode,
    IfNode,
    ListNode,
    NilNode,
    Node,
    NumberNode,
    PipeNode,
    RangeNode,
    StringNode,
    TemplateNode,
    TextNode,
    VariableNode,
    WithNode,
)


class ParseError(Exception):
    """A syntax error; the message is complete (``template: :LINE: ...``)."""


# --- parser -------------------------------------------------------------------

_OPERAND_START = frozenset(
    {T_BOOL, T_CHARCONST, T_COMPLEX, T_DOT, T_FIELD, T_IDENT, T_NUMBER, T_NIL, T_RAWSTRING}
    | {T_STRING, T_VARIABLE, T_LPAREN}
)
_MAX_PAREN_DEPTH = 100


def _tok_str(tok: Token) -> str:
    """How Go's parser names a token in ``unexpected X in Y``."""
    typ, val = tok[0], tok[1]
    if typ == T_EOF:
        return "EOF"
    if typ == T_ERROR:
        return val
    if typ > T_KEYWORD:
        return f"<{val}>"
    if len(val) > 10:
        return go_quote(val[:10]) + "..."
    return go_quote(val)


def _is_empty(node: Node) -> bool:
    if isinstance(node, ListNode):
        return all(_is_empty(n) for n in node.nodes)
    if isinstance(node, TextNode):
        return not node.text.strip(" \t\r\n\v\f\x85\xa0")
    return False


class Parser:
    """Parses one template text into its main tree and ``{{define}}``-d trees."""

    def __init__(self, text: str, funcs: Container[str]) -> None:
        self.funcs = funcs
        toks = lex(text, "break" not in funcs, "continue" not in funcs)
        self.toks = toks + [toks[-1]] * 4
        self.i = 0
        self.hi = 0
        self.vars = ["$"]
        self.range_depth = 0
        self.action_line = 0
        self.paren_depth = 0
        self.trees: dict[str, ListNode] = {}

    # token stream

    def next(self) -> Token:
        tok = self.toks[self.i]
        if self.i > self.hi:
            self.hi = self.i
        self.i += 1
        return tok

    def backup(self) -> None:
        self.i -= 1

    def peek(self) -> Token:
        tok = self.next()
        self.i -= 1
        return tok

    def next_non_space(self) -> Token:
        while True:
            tok = self.next()
            if tok[0] != T_SPACE:
                return tok

    def peek_non_space(self) -> Token:
        tok = self.next_non_space()
        self.i -= 1
        return tok

    def errorf(self, msg: str) -> ParseError:
        return ParseError(f"template: :{self.toks[self.hi][3]}: {msg}")

    def expect(self, typ: int, context: str) -> Token:
        tok = self.next_non_space()
        if tok[0] != typ:
            raise self.unexpected(tok, context)
        return tok

    def unexpected(self, tok: Token, context: str) -> ParseError:
        if tok[0] == T_ERROR:
            extra = ""
            if self.action_line and self.action_line != tok[3]:
                extra = f" in action started at :{self.action_line}"
                if tok[1].endswith(" action"):
                    extra = extra[len(" in action") :]
            return self.errorf(tok[1] + extra)
        return self.errorf(f"unexpected {_tok_str(tok)} in {context}")

    # structure

    def parse(self) -> dict[str, ListNode]:
        """Parse everything; the main tree is under the name ``""``."""
        root = ListNode(self.peek()[2])
        while self.peek()[0] != T_EOF:
            if self.peek()[0] == T_LEFT:
                mark = self.i
                self.next()
                if self.next_non_space()[0] == T_DEFINE:
                    self.subtree(self.parse_definition)
                    continue
                self.i = mark
            n = self.text_or_action()
            if isinstance(n, (EndNode, ElseNode)):
                raise self.errorf(f"unexpected {n}")
            root.nodes.append(n)
        self.add("", root)
        return self.trees

    def subtree(self, fn: Callable[[], None]) -> None:
        """Run a parse step for a separate tree: fresh variables, no enclosing range."""
        saved = self.vars, self.range_depth
        self.vars, self.range_depth = ["$"], 0
        try:
            fn()
        finally:
            self.vars, self.range_depth = saved

    def add(self, name: str, tree: ListNode) -> None:
        old = self.trees.get(name)
        if old is None or _is_empty(old):
            self.trees[name] = tree
        elif not _is_empty(tree):
            raise self.errorf(f"template: multiple definition of template {go_quote(name)}")

    def parse_definition(self) -> None:
        context = "define clause"
        tok = self.next_non_space()
        if tok[0] not in (T_STRING, T_RAWSTRING):
            raise self.unexpected(tok, context)
        name = self.unquote(tok)
        self.expect(T_RIGHT, context)
        body, end = self.item_list()
        if not isinstance(end, EndNode):
            raise self.errorf(f"unexpected {end} in {context}")
        self.add(name, body)

    def unquote(self, tok: Token) -> str:
        try:
            return unquote(tok[1])
        except (ValueError, IndexError):
            raise self.errorf("invalid syntax") from None

    def item_list(self) -> tuple[ListNode, Node]:
        body = ListNode(self.peek_non_space()[2])
        while self.peek_non_space()[0] != T_EOF:
            n = self.text_or_action()
            if isinstance(n, (EndNode, ElseNode)):
                return body, n
            body.nodes.append(n)
        raise self.errorf("unexpected EOF")

    def text_or_action(self) -> Node:
        tok = self.next_non_space()
        if tok[0] == T_TEXT:
            return TextNode(tok[2], tok[1])
        if tok[0] == T_LEFT:
            self.action_line = tok[3]
            try:
                return self.action()
            finally:
                self.action_line = 0
        raise self.unexpected(tok, "input")

    def action(self) -> Node:
        tok = self.next_non_space()
        typ = tok[0]
        if typ == T_BLOCK:
            return self.block_control()
        if typ in (T_BREAK, T_CONTINUE):
            word = "break" if typ == T_BREAK else "continue"
            t2 = self.next_non_space()
            if t2[0] != T_RIGHT:
                raise self.unexpected(t2, "{{" + word + "}}")
            if not self.range_depth:
                raise self.errorf("{{" + word + "}} outside {{range}}")
            return BreakNode(tok[2]) if typ == T_BREAK else ContinueNode(tok[2])
        if typ == T_ELSE:
            p = self.peek_non_space()
            if p[0] in (T_IF, T_WITH):
                return ElseNode(p[2])
            return ElseNode(self.expect(T_RIGHT, "else")[2])
        if typ == T_END:
            return EndNode(self.expect(T_RIGHT, "end")[2])
        if typ == T_IF:
            return IfNode(*self.parse_control("if"))
        if typ == T_RANGE:
            return RangeNode(*self.parse_control("range"))
        if typ == T_WITH:
            return WithNode(*self.parse_control("with"))
        if typ == T_TEMPLATE:
            return self.template_control()
        self.backup()
        tok = self.peek()
        return ActionNode(tok[2], tok[3], self.pipeline("command", T_RIGHT))

    def parse_control(self, context: str) -> tuple[int, PipeNode, ListNode, ListNode | None]:
        mark = len(self.vars)
        try:
            pipe = self.pipeline(context, T_RIGHT)
            if context == "range":
                self.range_depth += 1
            body, nxt = self.item_list()
            if context == "range":
                self.range_depth -= 1
            else_list = None
            if isinstance(nxt, ElseNode):
                # {{else if}} / {{else with}}: a nested if/with sharing our {{end}}.
                if context == "if" and self.peek()[0] == T_IF:
                    self.next()
                    else_list = ListNode(nxt.pos, [IfNode(*self.parse_control("if"))])
                elif context == "with" and self.peek()[0] == T_WITH:
                    self.next()
                    else_list = ListNode(nxt.pos, [WithNode(*self.parse_control("with"))])
                else:
                    else_list, nxt = self.item_list()
                    if not isinstance(nxt, EndNode):
                        raise self.errorf(f"expected end; found {nxt}")
            return pipe.pos, pipe, body, else_list
        finally:
            del self.vars[mark:]

    def block_control(self) -> Node:
        context = "block clause"
        tok = self.next_non_space()
        name = self.template_name(tok, context)
        pipe = self.pipeline(context, T_RIGHT)

        def body() -> None:
            tree, end = self.item_list()
            if not isinstance(end, EndNode):
                raise self.errorf(f"unexpected {end} in {context}")
            self.add(name, tree)

        self.subtree(body)
        return TemplateNode(tok[2], name, pipe)

    def template_control(self) -> Node:
        context = "template clause"
        tok = self.next_non_space()
        name = self.template_name(tok, context)
        pipe = None
        if self.next_non_space()[0] != T_RIGHT:
            self.backup()
            pipe = self.pipeline(context, T_RIGHT)
        return TemplateNode(tok[2], name, pipe)

    def template_name(self, tok: Token, context: str) -> str:
        if tok[0] in (T_STRING, T_RAWSTRING):
            return self.unquote(tok)
        raise self.unexpected(tok, context)

    # pipelines

    def pipeline(self, context: str, end: int) -> PipeNode:
        tok = self.peek_non_space()
        pipe = PipeNode(tok[2], tok[3])
        while True:  # declarations
            v = self.peek_non_space()
            if v[0] != T_VARIABLE:
                break
            vi = self.i
            self.next()
            nxt = self.peek_non_space()
            if nxt[0] in (T_ASSIGN, T_DECLARE):
                pipe.is_assign = nxt[0] == T_ASSIGN
                self.next_non_space()
                pipe.decl.append(VariableNode(v[2], (v[1],)))
                self.vars.append(v[1])
                break
            if nxt[0] == T_CHAR and nxt[1] == ",":
                self.next_non_space()
                pipe.decl.append(VariableNode(v[2], (v[1],)))
                self.vars.append(v[1])
                if context == "range" and len(pipe.decl) < 2:
                    if self.peek_non_space()[0] in (T_VARIABLE, T_RIGHT, T_RPAREN):
                        continue
                    raise self.errorf("range can only initialize variables")
                raise self.errorf(f"too many declarations in {context}")
            self.i = vi  # "$x foo": an operand, not a declaration
            break
        while True:
            tok = self.next_non_space()
            if tok[0] == end:
                self.check_pipeline(pipe, context)
                return pipe
            if tok[0] in _OPERAND_START:
                self.backup()
                pipe.cmds.append(self.command())
            else:
                raise self.unexpected(tok, context)

    def check_pipeline(self, pipe: PipeNode, context: str) -> None:
        if not pipe.cmds:
            raise self.errorf(f"missing value for {context}")
        for i, c in enumerate(pipe.cmds[1:]):
            if isinstance(c.args[0], (BoolNode, DotNode, NilNode, NumberNode, StringNode)):
                raise self.errorf(f"non executable command in pipeline stage {i + 2}")

    def command(self) -> CommandNode:
        cmd = CommandNode(self.peek_non_space()[2])
        while True:
            self.peek_non_space()
            operand = self.operand()
            if operand is not None:
                cmd.args.append(operand)
            tok = self.next()
            if tok[0] == T_SPACE:
                continue
            if tok[0] in (T_RIGHT, T_RPAREN):
                self.backup()
            elif tok[0] != T_PIPE:
                raise self.unexpected(tok, "operand")
            break
        if not cmd.args:
            raise self.errorf("empty command")
        return cmd

    def operand(self) -> Node | None:
        node = self.term()
        if node is None:
            return None
        if self.peek()[0] == T_FIELD:
            pos = self.peek()[2]
            fields: list[str] = []
            while self.peek()[0] == T_FIELD:
                fields.append(self.next()[1][1:])
            if isinstance(node, FieldNode):
                return FieldNode(pos, node.idents + tuple(fields))
            if isinstance(node, VariableNode):
                return VariableNode(pos, node.idents + tuple(fields))
            if isinstance(node, (BoolNode, StringNode, NumberNode, NilNode, DotNode)):
                raise self.errorf(f"unexpected . after term {go_quote(str(node))}")
            return ChainNode(pos, node, tuple(fields))
        return node

    def term(self) -> Node | None:
        tok = self.next_non_space()
        typ, val, pos = tok[0], tok[1], tok[2]
        if typ == T_IDENT:
            if val not in self.funcs:
                raise self.errorf(f"function {go_quote(val)} not defined")
            return IdentifierNode(pos, val)
        if typ == T_DOT:
            return DotNode(pos)
        if typ == T_NIL:
            return NilNode(pos)
        if typ == T_VARIABLE:
            if val not in self.vars:
                raise self.errorf(f"undefined variable {go_quote(val)}")
            return VariableNode(pos, (val,))
        if typ == T_FIELD:
            return FieldNode(pos, (val[1:],))
        if typ == T_BOOL:
            return BoolNode(pos, val == "true")
        if typ in (T_NUMBER, T_CHARCONST, T_COMPLEX):
            try:
                return NumberNode(pos, number(val, typ), val)
            except ValueError as e:
                raise self.errorf(str(e)) from None
        if typ == T_LPAREN:
            if self.paren_depth >= _MAX_PAREN_DEPTH:
                raise self.errorf("max expression depth exceeded")
            self.paren_depth += 1
            try:
                return self.pipeline("parenthesized pipeline", T_RPAREN)
            finally:
                self.paren_depth -= 1
        if typ in (T_STRING, T_RAWSTRING):
            return StringNode(pos, val, self.unquote(tok))
        self.backup()
        return None
