"""Executor of the Go text/template engine.

The parser (``gotemplate_parse``) builds the tree once; :func:`run` walks it
per data item. Semantics follow Go's ``text/template/exec.go``: field
chains, methods called with arguments, ``<no value>`` for an absent map key,
variables scoped to the enclosing block, and error messages worded like Go's
(``template: :1:2: executing "" at <.Foo>: ...``).

Python stands in for Go's types: a dict is a map, a list/tuple a slice, None a
nil value, any other object a struct whose attributes and methods are fields.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from pynerd.errors import InvalidArgument
from pynerd.format.gotemplate_fmt import MISSING, fmt_v, go_quote, go_type, sort_keys
from pynerd.format.gotemplate_funcs import Builtin, arity, truth
from pynerd.format.gotemplate_nodes import (
    ActionNode,
    BoolNode,
    BranchNode,
    BreakNode,
    ChainNode,
    CommandNode,
    ContinueNode,
    DotNode,
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

TYPE_CHECKING = False  # importing typing costs ~2 ms of CLI start-up
if TYPE_CHECKING:
    from typing import Any, NoReturn


class TemplateError(InvalidArgument):
    """A ``--format`` template failed to parse or to execute; worded like Go's error."""


class _NoFinal:
    """Go's ``missingVal``: no value piped in from the previous command."""

    __slots__ = ()


_NOFINAL: object = _NoFinal()

MAX_TEMPLATE_DEPTH = 100  # {{template}} nesting; Python's stack is shallower than Go's


class _Break(Exception):
    pass


class _Continue(Exception):
    pass


Funcs = Mapping[str, "Builtin | Callable[..., object]"]


class Program:
    """What execution needs from a compiled template."""

    __slots__ = ("funcs", "text", "trees")

    def __init__(self, text: str, trees: dict[str, ListNode], funcs: Funcs) -> None:
        self.text = text
        self.trees = trees
        self.funcs = funcs


class _State:
    __slots__ = ("depth", "name", "node", "out", "prog", "vars")

    def __init__(
        self, prog: Program, name: str, vars: list[list[object]], depth: int, out: list[str]
    ) -> None:
        self.prog = prog
        self.name = name
        self.vars = vars
        self.depth = depth
        self.out = out
        self.node: Node | None = None

    def error(self, msg: str) -> NoReturn:
        node = self.node
        if node is None:
            raise TemplateError(f"template: {self.name}: {msg}")
        before = self.prog.text[: node.pos]
        nl = before.rfind("\n")
        line = before.count("\n") + 1
        col = len(before[nl + 1 :].encode())
        raise TemplateError(
            f"template: :{line}:{col}: executing {go_quote(self.name)} at <{node}>: {msg}"
        )

    def var_value(self, name: str) -> object:
        for v in reversed(self.vars):
            if v[0] == name:
                return v[1]
        self.error(f"undefined variable: {name}")

    def set_var(self, name: str, value: object) -> None:
        for v in reversed(self.vars):
            if v[0] == name:
                v[1] = value
                return
        self.error(f"undefined variable: {name}")


def run(prog: Program, root: ListNode, data: object) -> str:
    """Execute ``root`` with ``data`` as dot and ``$``; a None datum is Go's nil data."""
    if data is None:
        data = MISSING
    out: list[str] = []
    st = _State(prog, "", [["$", data]], 0, out)
    try:
        _walk_list(st, data, root)
    except RecursionError:
        raise TemplateError("template: : expression or template nesting too deep") from None
    return "".join(out)


def _walk_list(st: _State, dot: object, node: ListNode) -> None:
    out = st.out
    for n in node.nodes:
        if type(n) is TextNode:
            out.append(n.text)
        else:
            _WALK[type(n)](st, dot, n)


def _walk_text(st: _State, dot: object, node: TextNode) -> None:
    st.out.append(node.text)


def _walk_action(st: _State, dot: object, node: ActionNode) -> None:
    st.node = node
    name = node.field
    if name is not None and type(dot) is dict:
        val = dot.get(name, MISSING)
    else:
        val = _eval_pipeline(st, dot, node.pipe)
        if node.pipe.decl:
            return
    if type(val) is str:
        st.out.append(val)
    elif val is MISSING:
        st.out.append("<no value>")
    else:
        st.out.append(fmt_v(val))


def _walk_if(st: _State, dot: object, node: BranchNode) -> None:
    mark = len(st.vars)
    val = _eval_pipeline(st, dot, node.pipe)
    if truth(val):
        _walk_list(st, val if type(node) is WithNode else dot, node.list)
    elif node.else_list is not None:
        _walk_list(st, dot, node.else_list)
    del st.vars[mark:]


def _walk_range(st: _State, dot: object, node: RangeNode) -> None:
    st.node = node
    mark0 = len(st.vars)
    pipe = node.pipe
    decl = pipe.decl
    try:
        val = _eval_pipeline(st, dot, pipe)
        mark = len(st.vars)
        items: list[tuple[object, object]]
        if isinstance(val, (list, tuple)):
            items = list(enumerate(val))
        elif isinstance(val, Mapping):
            items = [(k, val[k]) for k in sort_keys(list(val.keys()))]
        elif val is None or val is MISSING:
            items = []
        elif isinstance(val, int) and not isinstance(val, bool):
            if len(decl) > 1:
                st.error(f"can't use {val} to iterate over more than one variable")
            items = [(i, i) for i in range(val)]
        elif isinstance(val, (str, bytes, float, bool, complex)) or not hasattr(val, "__iter__"):
            st.error(f"range can't iterate over {fmt_v(val)}")
        else:
            items = list(enumerate(val))
        vars = st.vars
        for index, elem in items:
            if decl:
                if pipe.is_assign:
                    st.set_var(decl[0].idents[0], index if len(decl) > 1 else elem)
                else:
                    vars[mark - 1][1] = elem
            if len(decl) > 1:
                if pipe.is_assign:
                    st.set_var(decl[1].idents[0], elem)
                else:
                    vars[mark - 2][1] = index
            try:
                _walk_list(st, elem, node.list)
            except _Continue:
                pass
            finally:
                del vars[mark:]
        if not items and node.else_list is not None:
            _walk_list(st, dot, node.else_list)
    except _Break:
        pass
    finally:
        del st.vars[mark0:]


def _walk_template(st: _State, dot: object, node: TemplateNode) -> None:
    st.node = node
    tree = st.prog.trees.get(node.name)
    if tree is None:
        st.error(f"template {go_quote(node.name)} not defined")
    if st.depth >= MAX_TEMPLATE_DEPTH:
        st.error(f"exceeded maximum template depth ({MAX_TEMPLATE_DEPTH})")
    new_dot = MISSING if node.pipe is None else _eval_pipeline(st, dot, node.pipe)
    sub = _State(st.prog, node.name, [["$", new_dot]], st.depth + 1, st.out)
    _walk_list(sub, new_dot, tree)


def _walk_break(st: _State, dot: object, node: Node) -> None:
    raise _Break


def _walk_continue(st: _State, dot: object, node: Node) -> None:
    raise _Continue


_WALK: dict[type, Callable[[_State, object, Any], None]] = {
    ListNode: _walk_list,
    TextNode: _walk_text,
    ActionNode: _walk_action,
    IfNode: _walk_if,
    WithNode: _walk_if,
    RangeNode: _walk_range,
    TemplateNode: _walk_template,
    BreakNode: _walk_break,
    ContinueNode: _walk_continue,
}


def _eval_pipeline(st: _State, dot: object, pipe: PipeNode) -> object:
    st.node = pipe
    value = _NOFINAL
    for cmd in pipe.cmds:
        value = _eval_command(st, dot, cmd, value)
    for v in pipe.decl:
        if pipe.is_assign:
            st.set_var(v.idents[0], value)
        else:
            st.vars.append([v.idents[0], value])
    return value


def _not_a_function(st: _State, args: list[Node] | None, final: object) -> None:
    if (args is not None and len(args) > 1) or final is not _NOFINAL:
        st.error(f"can't give argument to non-function {args[0] if args else ''}")


def _eval_command(st: _State, dot: object, cmd: CommandNode, final: object) -> object:
    first = cmd.args[0]
    if type(first) is FieldNode:
        st.node = first
        return _eval_field_chain(st, dot, dot, first, first.idents, cmd.args, final)
    if type(first) is IdentifierNode:
        return _eval_function(st, dot, first, cmd, cmd.args, final)
    if type(first) is VariableNode:
        return _eval_variable(st, dot, first, cmd.args, final)
    if type(first) is ChainNode:
        return _eval_chain(st, dot, first, cmd.args, final)
    if type(first) is PipeNode:
        _not_a_function(st, cmd.args, final)
        return _eval_pipeline(st, dot, first)
    st.node = first
    _not_a_function(st, cmd.args, final)
    if type(first) is DotNode:
        return dot
    if isinstance(first, (BoolNode, NumberNode, StringNode)):
        return first.value
    st.error("nil is not a command")


def _eval_arg(st: _State, dot: object, n: Node) -> object:
    """An argument's value, an absent one kept as such (Go's ``reflect.Value``)."""
    st.node = n
    if type(n) is FieldNode:
        return _eval_field_chain(st, dot, dot, n, n.idents, [n], _NOFINAL)
    if type(n) is DotNode:
        return dot
    if type(n) is VariableNode:
        return _eval_variable(st, dot, n, None, _NOFINAL)
    if type(n) is PipeNode:
        return _eval_pipeline(st, dot, n)
    if type(n) is IdentifierNode:
        return _eval_function(st, dot, n, n, None, _NOFINAL)
    if type(n) is ChainNode:
        return _eval_chain(st, dot, n, None, _NOFINAL)
    if isinstance(n, (BoolNode, NumberNode, StringNode)):
        return n.value
    return MISSING  # nil


_KIND_NAMES = {"str": "string", "int": "int", "strs": "[]string"}


def _typed_arg(st: _State, dot: object, n: Node, kind: str) -> object:
    """An argument for a parameter of Go kind ``kind`` (see :class:`Builtin`)."""
    if kind == "val":
        return _eval_arg(st, dot, n)
    if kind == "any":
        v = _eval_arg(st, dot, n)
        return None if v is MISSING else v
    if isinstance(n, NilNode):
        st.node = n
        st.error(f"cannot assign nil to {_KIND_NAMES[kind]}")
    if isinstance(n, (BoolNode, NumberNode, StringNode)):  # literals are typed statically
        st.node = n
        if kind == "str":
            if isinstance(n, StringNode):
                return n.value
            st.error(f"expected string; found {n}")
        if kind == "int":
            v = n.value
            if isinstance(n, NumberNode) and isinstance(v, (int, float)) and v == int(v):
                return int(v)
            st.error(f"expected integer; found {n}")
        st.error(f"can't handle {n} for arg of type {_KIND_NAMES[kind]}")
    v = _eval_arg(st, dot, n)
    st.node = n
    return _validate(st, v, kind)


def _validate(st: _State, v: object, kind: str) -> object:
    """Go's ``validateType``: the value must be assignable to the parameter."""
    if kind == "val":
        return v
    if kind == "any":
        return None if v is MISSING else v
    if v is MISSING:
        if kind == "strs":
            return []
        st.error(f"invalid value; expected {_KIND_NAMES[kind]}")
    if kind == "str" and isinstance(v, str):
        return v
    if kind == "int" and isinstance(v, int) and not isinstance(v, bool):
        return v
    if kind == "strs":
        if v is None:
            return []
        if isinstance(v, (list, tuple)) and all(isinstance(x, str) for x in v):
            return list(v)
    got = "interface {}" if v is None else go_type(v)
    st.error(f"wrong type for value; expected {_KIND_NAMES[kind]}; got {got}")


def _eval_field_chain(
    st: _State,
    dot: object,
    receiver: object,
    node: Node,
    idents: tuple[str, ...],
    args: list[Node] | None,
    final: object,
) -> object:
    for name in idents[:-1]:
        receiver = _eval_field(st, dot, name, node, None, _NOFINAL, receiver)
    return _eval_field(st, dot, idents[-1], node, args, final, receiver)


_NO_FIELDS = (str, bytes, bytearray, int, float, complex, list, tuple)


def _eval_field(
    st: _State,
    dot: object,
    name: str,
    node: Node,
    args: list[Node] | None,
    final: object,
    receiver: object,
) -> object:
    """``.name`` of ``receiver``: a map key, an attribute, or a method to call."""
    if receiver is MISSING:
        return MISSING
    has_args = (args is not None and len(args) > 1) or final is not _NOFINAL
    if type(receiver) is dict:
        if has_args:
            st.error(f"{name} is not a method but has arguments")
        return receiver.get(name, MISSING)
    if receiver is None:
        st.error(f"nil pointer evaluating interface {{}}.{name}")
    if isinstance(receiver, Mapping):
        if not name.startswith("_") and not hasattr(dict, name):
            method = getattr(type(receiver), name, None)
            if callable(method):
                bound = getattr(receiver, name)
                return _eval_call(st, dot, bound, None, node, name, args, final)
        if has_args:
            st.error(f"{name} is not a method but has arguments")
        return receiver.get(name, MISSING)  # .get: a defaultdict must not grow
    if isinstance(receiver, _NO_FIELDS):
        st.error(f"can't evaluate field {name} in type {go_type(receiver)}")
    if name.startswith("_"):
        st.error(f"{name} is an unexported field of struct type {go_type(receiver)}")
    try:
        attr = getattr(receiver, name)
    except AttributeError:
        st.error(f"can't evaluate field {name} in type {go_type(receiver)}")
    except Exception as e:
        st.error(f"error calling {name}: {e}")
    if callable(attr) and not isinstance(attr, type):
        return _eval_call(st, dot, attr, None, node, name, args, final)
    if has_args:
        st.error(f"{name} has arguments but cannot be invoked as function")
    return attr


def _eval_variable(
    st: _State, dot: object, node: VariableNode, args: list[Node] | None, final: object
) -> object:
    st.node = node
    value = st.var_value(node.idents[0])
    if len(node.idents) == 1:
        _not_a_function(st, args, final)
        return value
    return _eval_field_chain(st, dot, value, node, node.idents[1:], args, final)


def _eval_chain(
    st: _State, dot: object, chain: ChainNode, args: list[Node] | None, final: object
) -> object:
    st.node = chain
    if type(chain.node) is NilNode:
        st.error(f"indirection through explicit nil in {chain}")
    pipe = _eval_arg(st, dot, chain.node)
    return _eval_field_chain(st, dot, pipe, chain, chain.fields, args, final)


def _eval_function(
    st: _State,
    dot: object,
    node: IdentifierNode,
    cmd: Node,
    args: list[Node] | None,
    final: object,
) -> object:
    st.node = node
    fn = st.prog.funcs.get(node.name)
    if fn is None:
        st.error(f"{go_quote(node.name)} is not a defined function")
    if isinstance(fn, Builtin):
        return _eval_call(st, dot, fn.fn, fn, cmd, node.name, args, final)
    return _eval_call(st, dot, fn, None, cmd, node.name, args, final)


def _eval_call(
    st: _State,
    dot: object,
    fn: Callable[..., object],
    spec: Builtin | None,
    node: Node,
    name: str,
    args: list[Node] | None,
    final: object,
) -> object:
    """Call a function or method with the command's arguments (and the piped value)."""
    argnodes = args[1:] if args is not None else []
    if spec is None:
        argv = []
        for a in argnodes:
            v = _eval_arg(st, dot, a)
            argv.append(None if v is MISSING else v)
        if final is not _NOFINAL:
            argv.append(None if final is MISSING else final)
    else:
        num_in = len(argnodes) + (final is not _NOFINAL)
        params = spec.params
        if spec.variadic is not None:
            if num_in < len(params):
                st.error(
                    f"wrong number of args for {name}: want at least {len(params)} "
                    f"got {len(argnodes)}"
                )
        elif num_in != len(params):
            st.error(f"wrong number of args for {name}: want {len(params)} got {num_in}")
        if spec.special in ("and", "or"):
            want = spec.special == "or"
            v = MISSING
            for a in argnodes:
                v = _eval_arg(st, dot, a)
                if truth(v) == want:
                    return v
            return final if final is not _NOFINAL else v
        argv = []
        if spec.special == "call":  # Go names the callee in call's errors
            argv.append(str(argnodes[0]) if argnodes else "")
        for i, a in enumerate(argnodes):
            kind = params[i] if i < len(params) else spec.variadic or "any"
            argv.append(_typed_arg(st, dot, a, kind))
        if final is not _NOFINAL:
            i = num_in - 1
            kind = params[i] if i < len(params) else spec.variadic or "any"
            argv.append(_validate(st, final, kind))
    try:
        return fn(*argv)
    except Exception as e:  # FuncError or anything a method or user function raised
        sig = arity(fn) if isinstance(e, TypeError) and spec is None else None
        if sig is not None:
            low, high = sig
            got = len(argv)
            if got < low or (high is not None and got > high):
                st.node = node
                if high is None:
                    st.error(f"wrong number of args for {name}: want at least {low} got {got}")
                st.error(
                    f"wrong number of args for {name}: want {max(low, min(got, high))} got {got}"
                )
        st.node = node
        st.error(f"error calling {name}: {e}")
