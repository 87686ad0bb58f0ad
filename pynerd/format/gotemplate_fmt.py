"""Go ``fmt`` semantics for the template engine (``%v``, ``Sprint``, ``Sprintf``...).

Docker users compare our output with Docker's byte for byte, so values print the
way Go's ``fmt`` prints them: ``true`` not ``True``, ``[a b]`` not ``['a', 'b']``,
``map[k:v]`` with sorted keys, ``1e+06`` for a float million. Python values stand
in for Go's: dict is a map, list/tuple a slice, None a nil.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence


class _Missing:
    """Go's invalid ``reflect.Value``: a map key that is absent, or no data at all.

    It is kept apart from None (an existing nil) because Go prints the two
    differently: ``<no value>`` versus ``<nil>``.
    """

    __slots__ = ()

    def __repr__(self) -> str:
        return "<missing>"

    def __bool__(self) -> bool:
        return False


MISSING: object = _Missing()

_SEQ = (list, tuple)


def go_type(v: object) -> str:
    """The Go type name Go would report for the value (``%T``, error texts)."""
    if v is None or v is MISSING:
        return "<nil>"
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, int):
        return "int"
    if isinstance(v, float):
        return "float64"
    if isinstance(v, complex):
        return "complex128"
    if isinstance(v, str):
        return "string"
    if isinstance(v, (bytes, bytearray)):
        return "[]uint8"
    if isinstance(v, _SEQ):
        return "[]interface {}"
    if isinstance(v, Mapping):
        return "map[string]interface {}"
    return type(v).__name__


# --- floats -------------------------------------------------------------------


def _digits(f: float) -> tuple[str, int]:
    """Shortest round-trip digits of ``abs(f)`` and ``dp`` with value ``0.DIGITS × 10**dp``."""
    mant, _, exp = repr(abs(f)).partition("e")
    intpart, _, frac = mant.partition(".")
    digits = intpart + frac
    dp = len(intpart) + (int(exp) if exp else 0)
    stripped = digits.lstrip("0")
    dp -= len(digits) - len(stripped)
    digits = stripped.rstrip("0")
    if not digits:
        return "0", 1
    return digits, dp


def _fmt_e(digits: str, dp: int, prec: int, upper: bool = False) -> str:
    """``d.ddde±XX`` from digits, ``prec`` digits after the point (already rounded)."""
    mant = digits[0]
    if prec > 0:
        mant += "." + digits[1 : 1 + prec].ljust(prec, "0")
    exp = dp - 1 if digits != "0" else 0
    sign = "-" if exp < 0 else "+"
    return f"{mant}{'E' if upper else 'e'}{sign}{abs(exp):02d}"


def _fmt_f(digits: str, dp: int, prec: int) -> str:
    """``ddd.ddd`` from digits, ``prec`` digits after the point (already rounded)."""
    if dp <= 0:
        whole = "0"
        frac = "0" * (-dp) + digits
    else:
        whole = digits[:dp].ljust(dp, "0")
        frac = digits[dp:]
    if prec > 0:
        return whole + "." + frac[:prec].ljust(prec, "0")
    return whole


def _shortest_g(f: float, upper: bool = False) -> str:
    """``strconv.FormatFloat(f, 'g', -1, 64)`` for a finite, non-negative magnitude."""
    digits, dp = _digits(f)
    if digits == "0":
        return "0"
    exp = dp - 1
    # Go uses %e when the exponent is < -4 or >= the precision, and that
    # precision is 6 for "shortest" whatever the digit count: 1e+06, 123456.
    if exp < -4 or exp >= 6:
        return _fmt_e(digits, dp, len(digits) - 1, upper)
    return _fmt_f(digits, dp, max(len(digits) - dp, 0))


def go_float(f: float) -> str:
    """A float as Go's ``%v`` prints it: ``1.5``, ``2``, ``1e+06``, ``+Inf``."""
    if f != f:
        return "NaN"
    if f in (math.inf, -math.inf):
        return "+Inf" if f > 0 else "-Inf"
    s = _shortest_g(f)
    return "-" + s if math.copysign(1.0, f) < 0 else s


def json_float(f: float) -> str:
    """A float as Go's ``encoding/json`` writes it (``%f`` unless tiny or huge)."""
    a = abs(f)
    digits, dp = _digits(f)
    sign = "-" if math.copysign(1.0, f) < 0 else ""
    if a != 0 and (a < 1e-6 or a >= 1e21):
        s = _fmt_e(digits, dp, len(digits) - 1)
        mant, _, exp = s.partition("e")
        if exp[0] == "-" and exp[1] == "0":
            exp = "-" + exp[2:]
        return sign + mant + "e" + exp
    return sign + _fmt_f(digits, dp, max(len(digits) - dp, 0))


# --- %v -----------------------------------------------------------------------


def sort_keys(keys: list[object]) -> list[object]:
    """Map keys in Go's ``fmtsort`` order: numbers numerically, strings bytewise."""
    try:
        return sorted(keys)  # type: ignore[type-var]
    except TypeError:
        return sorted(keys, key=lambda k: (go_type(k), str(k)))


def fmt_v(v: object) -> str:
    """``fmt.Sprint(v)`` for one value: Go's default ``%v`` rendering."""
    if type(v) is str:
        return v
    if type(v) is bool:
        return "true" if v else "false"
    if type(v) is int:
        return str(v)
    if v is None or v is MISSING:
        return "<nil>"
    if type(v) is float:
        return go_float(v)
    if isinstance(v, _SEQ):
        return "[" + " ".join([fmt_v(x) for x in v]) + "]"
    if isinstance(v, Mapping):
        return (
            "map["
            + " ".join([fmt_v(k) + ":" + fmt_v(v[k]) for k in sort_keys(list(v.keys()))])
            + "]"
        )
    if isinstance(v, str):
        return str.__str__(v)
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return int.__repr__(v)
    if isinstance(v, float):
        return go_float(v)
    if isinstance(v, complex):
        return "(" + go_float(v.real) + _signed(go_float(v.imag)) + "i)"
    if isinstance(v, (bytes, bytearray)):
        return "[" + " ".join(str(b) for b in v) + "]"
    return str(v)


def _signed(s: str) -> str:
    return s if s[0] in "+-" else "+" + s


def sprint(args: Sequence[object]) -> str:
    """``fmt.Sprint``: a space between operands when neither side is a string."""
    out: list[str] = []
    prev_str = False
    for i, a in enumerate(args):
        is_str = isinstance(a, str)
        if i and not is_str and not prev_str:
            out.append(" ")
        out.append(fmt_v(a))
        prev_str = is_str
    return "".join(out)


def sprintln(args: Sequence[object]) -> str:
    """``fmt.Sprintln``: operands always space-separated, newline appended."""
    return " ".join([fmt_v(a) for a in args]) + "\n"


# --- quoting ------------------------------------------------------------------

_ESC = {"\a": "\\a", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\v": "\\v"}


def _quote_with(s: str, quote: str, ascii_only: bool) -> str:
    out = [quote]
    for c in s:
        if c == quote or c == "\\":
            out.append("\\" + c)
        elif c.isprintable() and (not ascii_only or c < "\x7f"):
            out.append(c)
        elif c in _ESC:
            out.append(_ESC[c])
        else:
            r = ord(c)
            if r < 0x20 or r == 0x7F:
                out.append(f"\\x{r:02x}")
            elif 0xD800 <= r < 0xE000:
                out.append("\\ufffd")
            elif r < 0x10000:
                out.append(f"\\u{r:04x}")
            else:
                out.append(f"\\U{r:08x}")
    out.append(quote)
    return "".join(out)


def go_quote(s: str, ascii_only: bool = False) -> str:
    """``strconv.Quote``: a double-quoted Go string literal."""
    return _quote_with(s, '"', ascii_only)


def go_quote_rune(r: int, ascii_only: bool = False) -> str:
    """``strconv.QuoteRune``: a single-quoted Go rune literal."""
    if r < 0 or r > 0x10FFFF or 0xD800 <= r < 0xE000:
        r = 0xFFFD
    return _quote_with(chr(r), "'", ascii_only)


def _can_backquote(s: str) -> bool:
    return all((c == "\t" or (c >= " " and c != "\x7f")) and c not in "`\ufeff" for c in s)


# --- Sprintf ------------------------------------------------------------------


class _Spec:
    """The flags, width and precision of one ``%`` directive."""

    __slots__ = ("minus", "plus", "prec", "sharp", "space", "width", "zero")

    def __init__(self) -> None:
        self.minus = self.plus = self.sharp = self.space = self.zero = False
        self.width: int | None = None
        self.prec: int | None = None


_PLAIN = _Spec()


def _pad(s: str, sp: _Spec, zero: bool | None = None) -> str:
    w = sp.width
    if w is None or len(s) >= w:
        return s
    fill = w - len(s)
    if sp.minus:
        return s + " " * fill
    return ("0" if (sp.zero if zero is None else zero) else " ") * fill + s


def _bad_verb(verb: str, arg: object) -> str:
    if arg is None or arg is MISSING:
        return f"%!{verb}(<nil>)"
    return f"%!{verb}({go_type(arg)}={fmt_arg(arg, 'v', _PLAIN)})"


_BASES = {"d": 10, "v": 10, "b": 2, "o": 8, "O": 8, "x": 16, "X": 16}


def _fmt_int(v: int, verb: str, sp: _Spec) -> str:
    if verb == "c":
        return _pad(chr(v) if 0 <= v <= 0x10FFFF else "\ufffd", sp)
    if verb == "q":
        q = go_quote_rune(v, sp.plus)
        if sp.sharp and 0 <= v <= 0x10FFFF and _can_backquote(chr(v)) and chr(v) != "'":
            q = "`" + chr(v) + "`"
        return _pad(q, sp)
    if verb == "U":
        s = f"U+{v:04X}" if v >= 0 else f"U+{v & 0xFFFFFFFFFFFFFFFF:X}"
        if sp.prec is not None and sp.prec > 4:
            s = "U+" + s[2:].rjust(sp.prec, "0")
        if sp.sharp and 0 <= v <= 0x10FFFF and chr(v).isprintable():
            s += f" '{chr(v)}'"
        return _pad(s, sp, zero=False)
    base = _BASES.get(verb)
    if base is None:
        return _bad_verb(verb, v)
    neg = v < 0
    u = -v if neg else v
    prec = 0
    if sp.prec is not None:
        prec = sp.prec
        if prec == 0 and u == 0:
            return _pad("", sp, zero=False)
    elif sp.zero and not sp.minus and sp.width is not None:
        prec = sp.width
        if neg or sp.plus or sp.space:
            prec -= 1
    if base == 10:
        digits = str(u)
    elif base == 16:
        digits = format(u, "X" if verb == "X" else "x")
    elif base == 8:
        digits = format(u, "o")
    else:
        digits = format(u, "b")
    digits = digits.rjust(prec, "0")
    if sp.sharp:
        if base == 2:
            digits = "0b" + digits
        elif base == 8 and verb == "o" and digits[0] != "0":
            digits = "0" + digits
        elif base == 16:
            digits = ("0X" if verb == "X" else "0x") + digits
    if verb == "O":
        digits = "0o" + digits
    if neg:
        digits = "-" + digits
    elif sp.plus:
        digits = "+" + digits
    elif sp.space:
        digits = " " + digits
    return _pad(digits, sp, zero=False)


def _float_body(f: float, verb: str, prec: int | None) -> str:
    """The unsigned text of a finite float for one verb."""
    a = abs(f)
    if verb in "vgG":
        if prec is None:
            return _shortest_g(a, verb == "G")
        s = format(a, f".{max(prec, 1) if prec else 1}{'G' if verb == 'G' else 'g'}")
        return s
    if verb in "eE":
        return format(a, f".{6 if prec is None else prec}{verb}")
    if verb in "fF":
        return format(a, f".{6 if prec is None else prec}f")
    if verb in "xX":
        mant, _, exp = a.hex().partition("p")
        mant = mant.rstrip("0").rstrip(".") if "." in mant else mant
        if prec is not None:
            head, _, frac = mant.partition(".")
            mant = head + ("." + frac[:prec].ljust(prec, "0") if prec else "")
        e = int(exp)
        s = f"{mant}p{'-' if e < 0 else '+'}{abs(e):02d}"
        return s.upper() if verb == "X" else s
    # 'b': decimalless mantissa and binary exponent
    m, e = math.frexp(a)
    if a == 0:
        return "0p-1074"
    return f"{int(m * (1 << 53))}p{e - 53:+d}"


def _fmt_float(f: float, verb: str, sp: _Spec) -> str:
    if verb not in "vgGeEfFxXb":
        return _bad_verb(verb, f)
    if f != f or f in (math.inf, -math.inf):
        if f != f:
            body = ("+" if sp.plus else " " if sp.space else "") + "NaN"
        else:
            body = ("+" if f > 0 else "-") + "Inf"
            if f > 0 and sp.space and not sp.plus:
                body = " Inf"
        return _pad(body, sp, zero=False)
    body = _float_body(f, verb, sp.prec)
    if math.copysign(1.0, f) < 0:
        sign = "-"
    elif sp.plus:
        sign = "+"
    elif sp.space:
        sign = " "
    else:
        sign = ""
    if sp.zero and not sp.minus and sp.width is not None and sp.width > len(sign + body):
        return sign + "0" * (sp.width - len(sign + body)) + body
    return _pad(sign + body, sp, zero=False)


def _fmt_str(s: str, verb: str, sp: _Spec) -> str:
    if verb in "sv":
        if sp.prec is not None:
            s = s[: sp.prec]
        return _pad(s, sp)
    if verb == "q":
        if sp.prec is not None:
            s = s[: sp.prec]
        if sp.sharp and _can_backquote(s):
            return _pad("`" + s + "`", sp)
        return _pad(go_quote(s, sp.plus), sp)
    if verb in "xX":
        return _pad(_hex_bytes(s.encode(), verb, sp), sp)
    return _bad_verb(verb, s)


def _hex_bytes(b: bytes, verb: str, sp: _Spec) -> str:
    if sp.prec is not None:
        b = b[: sp.prec]
    digits = "0123456789ABCDEF" if verb == "X" else "0123456789abcdef"
    prefix = ("0X" if verb == "X" else "0x") if sp.sharp else ""
    parts = [digits[c >> 4] + digits[c & 15] for c in b]
    if sp.space:
        return " ".join(prefix + p for p in parts)
    return prefix + "".join(parts) if parts else ""


def fmt_arg(arg: object, verb: str, sp: _Spec) -> str:
    """One operand of ``Sprintf`` formatted for ``verb`` (Go's ``printArg``)."""
    if arg is None or arg is MISSING:
        if verb in "Tv":
            return _pad("<nil>", sp)
        return _bad_verb(verb, arg)
    if verb == "T":
        return _pad(go_type(arg), sp)
    if isinstance(arg, bool):
        if verb in "tv":
            return _pad("true" if arg else "false", sp)
        return _bad_verb(verb, arg)
    if isinstance(arg, int):
        return _fmt_int(int(arg), verb, sp)
    if isinstance(arg, float):
        return _fmt_float(float(arg), verb, sp)
    if isinstance(arg, str):
        return _fmt_str(str.__str__(arg), verb, sp)
    if isinstance(arg, (bytes, bytearray)):
        if verb in "sq":
            return _fmt_str(arg.decode("utf-8", "replace"), verb, sp)
        if verb in "xX":
            return _pad(_hex_bytes(bytes(arg), verb, sp), sp)
        return "[" + " ".join(_fmt_int(c, verb, sp) for c in arg) + "]"
    if isinstance(arg, _SEQ):
        return "[" + " ".join([fmt_arg(x, verb, sp) for x in arg]) + "]"
    if isinstance(arg, Mapping):
        keys = sort_keys(list(arg.keys()))
        return (
            "map["
            + " ".join([fmt_arg(k, verb, sp) + ":" + fmt_arg(arg[k], verb, sp) for k in keys])
            + "]"
        )
    if isinstance(arg, complex):
        if verb not in "vgGeEfF":
            return _bad_verb(verb, arg)
        re_, im = _fmt_float(arg.real, verb, _PLAIN), _fmt_float(arg.imag, verb, _PLAIN)
        return _pad("(" + re_ + _signed(im) + "i)", sp)
    if verb in "sv":
        return _pad(str(arg), sp)
    return _bad_verb(verb, arg)


def sprintf(fmt: str, args: Sequence[object]) -> str:
    """``fmt.Sprintf`` with Go's verbs, flags and ``%!`` error notations."""
    out: list[str] = []
    n = len(fmt)
    i = 0
    argi = 0
    nargs = len(args)
    reordered = False
    while i < n:
        j = fmt.find("%", i)
        if j < 0:
            out.append(fmt[i:])
            break
        if j > i:
            out.append(fmt[i:j])
        i = j + 1
        sp = _Spec()
        while i < n:
            c = fmt[i]
            if c == "-":
                sp.minus = True
                sp.zero = False
            elif c == "+":
                sp.plus = True
            elif c == "#":
                sp.sharp = True
            elif c == " ":
                sp.space = True
            elif c == "0":
                sp.zero = not sp.minus
            else:
                break
            i += 1
        argi, i, reord = _arg_index(fmt, i, argi, nargs)
        reordered = reordered or reord
        if i < n and fmt[i] == "*":
            i += 1
            w = args[argi] if argi < nargs else None
            if isinstance(w, int) and not isinstance(w, bool):
                if w < 0:
                    sp.minus, sp.zero, w = True, False, -w
                sp.width = w
            else:
                out.append("%!(BADWIDTH)")
            argi += 1
        else:
            start = i
            while i < n and "0" <= fmt[i] <= "9":
                i += 1
            if i > start:
                sp.width = int(fmt[start:i])
        if i < n and fmt[i] == ".":
            i += 1
            argi, i, reord = _arg_index(fmt, i, argi, nargs)
            reordered = reordered or reord
            if i < n and fmt[i] == "*":
                i += 1
                p = args[argi] if argi < nargs else None
                if isinstance(p, int) and not isinstance(p, bool) and p >= 0:
                    sp.prec = p
                else:
                    out.append("%!(BADPREC)")
                argi += 1
            else:
                start = i
                while i < n and "0" <= fmt[i] <= "9":
                    i += 1
                sp.prec = int(fmt[start:i]) if i > start else 0
        argi, i, reord = _arg_index(fmt, i, argi, nargs)
        reordered = reordered or reord
        if i >= n:
            out.append("%!(NOVERB)")
            break
        verb = fmt[i]
        i += 1
        if verb == "%":
            out.append("%")
            continue
        if argi >= nargs:
            out.append(f"%!{verb}(MISSING)")
            continue
        arg = args[argi]
        argi += 1
        out.append(fmt_arg(arg, verb, sp))
    if not reordered and argi < nargs:
        extra = []
        for a in args[argi:]:
            extra.append("<nil>" if a is None or a is MISSING else go_type(a) + "=" + fmt_v(a))
        out.append("%!(EXTRA " + ", ".join(extra) + ")")
    return "".join(out)


def _arg_index(fmt: str, i: int, argi: int, nargs: int) -> tuple[int, int, bool]:
    """An explicit ``[n]`` argument index, if one starts at ``i``."""
    if i >= len(fmt) or fmt[i] != "[":
        return argi, i, False
    close = fmt.find("]", i)
    if close < 0 or not fmt[i + 1 : close].isdigit():
        return argi, i, False
    k = int(fmt[i + 1 : close]) - 1
    if 0 <= k < nargs or k == nargs:
        return k, close + 1, True
    return argi, close + 1, True
