"""The functions a template can call: Go's builtins and Docker's helpers.

Each default function is a :class:`Builtin` that declares its Go parameter
kinds, so the executor can reject a wrong argument with Go's own message
(``wrong type for value; expected string; got int``) before the call. Failures
inside a function raise :class:`FuncError`, reported as ``error calling NAME``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from pynerd.format.gotemplate_fmt import MISSING, fmt_v, go_type, json_float, sprint, sprintf
from pynerd.format.gotemplate_fmt import sprintln as _sprintln


class FuncError(Exception):
    """A function failed; the executor reports ``error calling NAME: MESSAGE``."""


class Builtin:
    """A default function with Go parameter kinds.

    Kinds: ``val`` (any value, an absent one kept as such, like Go's
    ``reflect.Value`` parameters), ``any`` (``interface{}``: absent becomes nil),
    ``str``, ``int`` and ``strs`` (``[]string``). ``special`` marks the
    short-circuit ``and``/``or`` that the executor evaluates itself, and
    ``call``, which also receives the callee's spelling for its messages.
    """

    __slots__ = ("fn", "params", "special", "variadic")

    def __init__(
        self,
        fn: Callable[..., object],
        params: tuple[str, ...],
        variadic: str | None = None,
        special: str = "",
    ) -> None:
        self.fn = fn
        self.params = params
        self.variadic = variadic
        self.special = special


def truth(v: object) -> bool:
    """Go's ``IsTrue``: false, 0, nil and empty string/slice/map are false."""
    if v is None or v is MISSING:
        return False
    if type(v) is bool:
        return v
    if type(v) is str:
        return v != ""
    if isinstance(v, (str, bytes, bytearray, list, tuple, Mapping)):
        return len(v) > 0
    if isinstance(v, (int, float, complex)):
        return v != 0
    return True


def _is_nil(v: object) -> bool:
    return v is None or v is MISSING


# --- indexing -----------------------------------------------------------------


def _index_arg(index: object, cap: int) -> int:
    if _is_nil(index):
        raise FuncError("cannot index slice/array with nil")
    if not isinstance(index, int) or isinstance(index, bool):
        raise FuncError(f"cannot index slice/array with type {go_type(index)}")
    if index < 0 or index > cap:
        raise FuncError(f"index out of range: {index}")
    return index


def _map_zero(m: Mapping[object, object]) -> object:
    """The zero value of a map's element type, guessed from its values.

    Docker's label and option maps are ``map[string]string`` whose zero is
    ``""``; other maps are taken as ``map[string]interface{}`` (zero: no value).
    """
    return "" if all(isinstance(x, str) for x in m.values()) else MISSING


def _map_key(m: Mapping[object, object], key: object) -> object:
    if _is_nil(key):
        raise FuncError("value is nil; should be of type string")
    for k in m:
        if type(k) is not type(key) and not (isinstance(k, str) and isinstance(key, str)):
            raise FuncError(f"value has type {go_type(key)}; should be {go_type(k)}")
        break
    return key


def _index(item: object, *indexes: object) -> object:
    if item is MISSING:
        raise FuncError("index of untyped nil")
    for index in indexes:
        if item is None:
            # A nil map/slice: Docker's nil label map indexes to "".
            if isinstance(index, str):
                item = ""
                continue
            _index_arg(index, 0)
            raise FuncError("reflect: slice index out of range")
        if isinstance(item, str):
            b = item.encode()
            x = _index_arg(index, len(b))
            if x == len(b):
                raise FuncError("reflect: string index out of range")
            item = b[x]
        elif isinstance(item, (list, tuple, bytes, bytearray)):
            x = _index_arg(index, len(item))
            if x == len(item):
                raise FuncError("reflect: slice index out of range")
            item = item[x]
        elif isinstance(item, Mapping):
            key = _map_key(item, index)
            try:
                present = key in item
            except TypeError:  # unhashable key
                present = False
            item = item[key] if present else _map_zero(item)
        else:
            raise FuncError(f"can't index item of type {go_type(item)}")
    return item


def _slice(item: object, *indexes: object) -> object:
    if item is MISSING:
        raise FuncError("slice of untyped nil")
    if item is None:
        item = []
    if len(indexes) > 3:
        raise FuncError(f"too many slice indexes: {len(indexes)}")
    seq: bytes | list[object] | tuple[object, ...]
    if isinstance(item, str):
        if len(indexes) == 3:
            raise FuncError("cannot 3-index slice a string")
        seq = item.encode()
    elif isinstance(item, (list, tuple)):
        seq = item
    else:
        raise FuncError(f"can't slice item of type {go_type(item)}")
    n = len(seq)
    idx = [0, n, n]
    for i, index in enumerate(indexes):
        idx[i] = _index_arg(index, n)
    if idx[0] > idx[1]:
        raise FuncError(f"invalid slice index: {idx[0]} > {idx[1]}")
    if len(indexes) == 3 and idx[1] > idx[2]:
        raise FuncError(f"invalid slice index: {idx[1]} > {idx[2]}")
    part = seq[idx[0] : idx[1]]
    if isinstance(part, bytes):
        return part.decode("utf-8", "replace")
    return part


def _len(item: object) -> int:
    if item is MISSING:
        raise FuncError("reflect: call of reflect.Value.Type on zero Value")
    if item is None:
        return 0
    if isinstance(item, str):
        return len(item.encode())
    if isinstance(item, (list, tuple, Mapping, bytes, bytearray)):
        return len(item)
    raise FuncError(f"len of type {go_type(item)}")


def arity(fn: Callable[..., object]) -> tuple[int, int | None] | None:
    """(fewest, most or None if variadic) arguments a Python function takes, if known.

    Read from the code object only after a call failed with TypeError, so that
    the message can be Go's ``wrong number of args`` (``inspect`` is too slow
    to import for the CLI).
    """
    func = getattr(fn, "__func__", fn)
    code = getattr(func, "__code__", None)
    if code is None:
        return None
    n = code.co_argcount - (1 if getattr(fn, "__self__", None) is not None else 0)
    low = n - len(getattr(func, "__defaults__", None) or ())
    return low, (None if code.co_flags & 0x04 else n)


def _call(name: str, fn: object, *args: object) -> object:
    """``call FN ARGS...``; ``name`` is how the template spelled FN, for errors."""
    if _is_nil(fn):
        raise FuncError("call of nil")
    if not callable(fn):
        raise FuncError(f"non-function {name} of type {go_type(fn)}")
    try:
        return fn(*[None if a is MISSING else a for a in args])
    except TypeError:
        want = arity(fn)
        if want is not None:
            low, high = want
            if high is None and len(args) < low:
                raise FuncError(
                    f"wrong number of args for {name}: got {len(args)} want at least {low}"
                ) from None
            if high is not None and not low <= len(args) <= high:
                raise FuncError(
                    f"wrong number of args for {name}: got {len(args)} want {high}"
                ) from None
        raise


# --- comparison ---------------------------------------------------------------


def _kind(v: object) -> str:
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, int):
        return "int"
    if isinstance(v, float):
        return "float"
    if isinstance(v, str):
        return "string"
    if isinstance(v, complex):
        return "complex"
    return ""


def _eq(arg1: object, *arg2: object) -> bool:
    if not arg2:
        raise FuncError("missing argument for comparison")
    k1 = _kind(arg1)
    for a in arg2:
        k2 = _kind(a)
        if k1 != k2:
            if not _is_nil(arg1) and not _is_nil(a):
                raise FuncError(
                    f"incompatible types for comparison: {go_type(arg1)} and {go_type(a)}"
                )
            ok = False
        elif k1:
            ok = arg1 == a
        elif _is_nil(arg1) or _is_nil(a):
            ok = _is_nil(arg1) and _is_nil(a)
        elif go_type(arg1) != go_type(a):
            raise FuncError(
                f"non-comparable types {fmt_v(arg1)}: {go_type(arg1)}, {go_type(a)}: {fmt_v(a)}"
            )
        elif isinstance(a, (list, Mapping)):
            raise FuncError(f"non-comparable type {fmt_v(a)}: {go_type(a)}")
        else:
            ok = arg1 == a
        if ok:
            return True
    return False


def _ne(a: object, b: object) -> bool:
    return not _eq(a, b)


def _lt(a: object, b: object) -> bool:
    k1, k2 = _kind(a), _kind(b)
    if not k1 or not k2:
        raise FuncError("invalid type for comparison")
    if k1 != k2:
        raise FuncError(f"incompatible types for comparison: {go_type(a)} and {go_type(b)}")
    if k1 in ("bool", "complex"):
        raise FuncError("invalid type for comparison")
    return bool(a < b)  # type: ignore[operator]


def _le(a: object, b: object) -> bool:
    return _lt(a, b) or _eq(a, b)


def _gt(a: object, b: object) -> bool:
    return not _le(a, b)


def _ge(a: object, b: object) -> bool:
    return not _lt(a, b)


def _not(a: object) -> bool:
    return not truth(a)


# --- escaping -----------------------------------------------------------------


def _eval_args(args: tuple[object, ...]) -> str:
    """``fmt.Sprint`` of the arguments, a nil one printed as ``<no value>``."""
    if len(args) == 1 and isinstance(args[0], str):
        return args[0]
    return sprint(["<no value>" if _is_nil(a) else a for a in args])


_HTML = {'"': "&#34;", "'": "&#39;", "&": "&amp;", "<": "&lt;", ">": "&gt;", "\0": "\ufffd"}


def _html(*args: object) -> str:
    s = _eval_args(args)
    return "".join(_HTML.get(c, c) for c in s)


_JS = {
    "\\": "\\\\",
    "'": "\\'",
    '"': '\\"',
    "<": "\\u003C",
    ">": "\\u003E",
    "&": "\\u0026",
    "=": "\\u003D",
}


def _js(*args: object) -> str:
    out = []
    for c in _eval_args(args):
        if c in _JS:
            out.append(_JS[c])
        elif c < " " or (c >= "\x80" and not c.isprintable()):
            out.append(f"\\u{ord(c):04X}")
        else:
            out.append(c)
    return "".join(out)


_URL_SAFE = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.~")


def _urlquery(*args: object) -> str:
    """``url.QueryEscape``: space as ``+``, all but unreserved bytes as ``%XX``."""
    out = []
    for b in _eval_args(args).encode():
        if b in _URL_SAFE:
            out.append(chr(b))
        elif b == 0x20:
            out.append("+")
        else:
            out.append(f"%{b:02X}")
    return "".join(out)


def _print(*args: object) -> str:
    return sprint(args)


def _printf(fmt: str, *args: object) -> str:
    return sprintf(fmt, args)


def _println(*args: object) -> str:
    return _sprintln(args)


# --- Docker's helpers (docker/cli templates package) ---------------------------


def _json_ready(v: object, floats: list[str]) -> object:
    """Copy ``v`` into json-module types, floats spelled the way Go writes them."""
    if v is None or v is MISSING or isinstance(v, (str, bool, int)):
        return None if v is MISSING else v
    if isinstance(v, float):
        if v != v or v in (float("inf"), float("-inf")):
            raise ValueError("unsupported value")
        s = json_float(v)
        if s == repr(v):
            return v
        floats.append(s)
        return f"\0{len(floats) - 1}\0"
    if isinstance(v, Mapping):
        return {
            (k if isinstance(k, str) else fmt_v(k)): _json_ready(x, floats) for k, x in v.items()
        }
    if isinstance(v, (list, tuple)):
        return [_json_ready(x, floats) for x in v]
    if isinstance(v, (bytes, bytearray)):
        import base64

        return base64.b64encode(v).decode()
    to_json = getattr(v, "to_json", None)
    if callable(to_json):
        return _json_ready(to_json(), floats)
    d = getattr(v, "__dict__", None)
    if isinstance(d, dict):
        return {k: _json_ready(x, floats) for k, x in d.items() if not k.startswith("_")}
    return str(v)


def _json(v: object) -> str:
    """Docker's ``json``: compact, no HTML escaping, U+2028/2029 escaped like Go."""
    import json  # only templates that call json pay for it

    floats: list[str] = []
    try:
        s = json.dumps(_json_ready(v, floats), ensure_ascii=False, separators=(",", ":"))
    except (ValueError, TypeError, RecursionError):
        return ""  # Docker ignores the encoder's error and prints nothing
    for i, f in enumerate(floats):
        s = s.replace(f'"\\u0000{i}\\u0000"', f)
    if "\u2028" in s or "\u2029" in s:
        s = s.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")
    return s


def _split(s: str, sep: str) -> list[str]:
    return list(s) if sep == "" else s.split(sep)


def _join(elems: list[str], sep: str) -> str:
    return sep.join(elems)


def _title(s: str) -> str:
    """``strings.Title``: upper-case each letter that follows a separator."""
    out = []
    prev_sep = True
    for c in s:
        if prev_sep:
            u = c.upper()
            out.append(u if len(u) == 1 else c)
        else:
            out.append(c)
        if c < "\x80":
            prev_sep = not (c.isalnum() or c == "_")
        else:
            prev_sep = not (c.isalpha() or c.isdecimal()) and c.isspace()
    return "".join(out)


def _lower(s: str) -> str:
    return s.lower()


def _upper(s: str) -> str:
    return s.upper()


def _pad(s: str, before: int, after: int) -> str:
    return s if s == "" else " " * before + s + " " * after


def _truncate(s: str, n: int) -> str:
    """Docker's ``truncate``: the first ``n`` bytes (not runes) of the string."""
    b = s.encode()
    if len(b) < n:
        return s
    if n < 0:
        raise FuncError(f"slice bounds out of range [:{n}]")
    return b[:n].decode("utf-8", "ignore")


_ANY_V = ("any",)

BUILTINS: dict[str, Builtin] = {
    "and": Builtin(lambda *a: a[-1], ("val",), "val", special="and"),
    "or": Builtin(lambda *a: a[-1], ("val",), "val", special="or"),
    "not": Builtin(_not, ("val",)),
    "call": Builtin(_call, ("val",), "val", special="call"),
    "html": Builtin(_html, (), "any"),
    "js": Builtin(_js, (), "any"),
    "urlquery": Builtin(_urlquery, (), "any"),
    "index": Builtin(_index, ("val",), "val"),
    "slice": Builtin(_slice, ("val",), "val"),
    "len": Builtin(_len, ("val",)),
    "print": Builtin(_print, (), "any"),
    "printf": Builtin(_printf, ("str",), "any"),
    "println": Builtin(_println, (), "any"),
    "eq": Builtin(_eq, ("val",), "val"),
    "ne": Builtin(_ne, ("val", "val")),
    "lt": Builtin(_lt, ("val", "val")),
    "le": Builtin(_le, ("val", "val")),
    "gt": Builtin(_gt, ("val", "val")),
    "ge": Builtin(_ge, ("val", "val")),
}

DOCKER_FUNCS: dict[str, Builtin] = {
    "json": Builtin(_json, _ANY_V),
    "split": Builtin(_split, ("str", "str")),
    "join": Builtin(_join, ("strs", "str")),
    "title": Builtin(_title, ("str",)),
    "lower": Builtin(_lower, ("str",)),
    "upper": Builtin(_upper, ("str",)),
    "pad": Builtin(_pad, ("str", "int", "int")),
    "truncate": Builtin(_truncate, ("str", "int")),
}
