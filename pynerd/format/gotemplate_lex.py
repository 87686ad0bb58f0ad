"""Lexer of Go's text/template syntax, and the values of its literals.

Follows Go's ``text/template/parse/lex.go`` closely (trim markers ``{{- -}}``,
comments, what ends an identifier, number syntax) because the lexer decides
which templates are errors and how the errors read.
"""

from __future__ import annotations

from pynerd.format.gotemplate_fmt import go_quote

# Token types. Keywords sort after T_KEYWORD, as in Go, for the error wording.
T_ERROR, T_BOOL, T_CHAR, T_CHARCONST, T_COMPLEX, T_ASSIGN, T_DECLARE, T_EOF = range(8)
T_FIELD, T_IDENT, T_LEFT, T_LPAREN, T_NUMBER, T_PIPE, T_RAWSTRING, T_RIGHT = range(8, 16)
T_RPAREN, T_SPACE, T_STRING, T_TEXT, T_VARIABLE, T_KEYWORD = range(16, 22)
T_BLOCK, T_BREAK, T_CONTINUE, T_DOT, T_DEFINE, T_ELSE, T_END, T_IF = range(22, 30)
T_NIL, T_RANGE, T_TEMPLATE, T_WITH = range(30, 34)

_KEYWORDS = {
    ".": T_DOT,
    "block": T_BLOCK,
    "break": T_BREAK,
    "continue": T_CONTINUE,
    "define": T_DEFINE,
    "else": T_ELSE,
    "end": T_END,
    "if": T_IF,
    "range": T_RANGE,
    "nil": T_NIL,
    "template": T_TEMPLATE,
    "with": T_WITH,
}

Token = tuple[int, str, int, int]  # type, text, offset, line

_SPACE = " \t\r\n"
_DEC = "0123456789_"
_HEX = "0123456789abcdefABCDEF_"


def _is_alnum(c: str) -> bool:
    return c == "_" or c.isalpha() or c.isdecimal()


def _fmt_rune(c: str) -> str:
    """Go's ``%#U``: ``U+007D '}'``."""
    s = f"U+{ord(c):04X}"
    return s + f" '{c}'" if c.isprintable() else s


def lex(text: str, break_ok: bool = True, continue_ok: bool = True) -> list[Token]:
    """All tokens of ``text``, ending with an EOF or an error token."""
    toks: list[Token] = []
    n = len(text)
    line_pos = 0
    line_no = 1

    def add(typ: int, start: int, end: int) -> None:
        nonlocal line_pos, line_no
        line_no += text.count("\n", line_pos, start)
        line_pos = start
        toks.append((typ, text[start:end], start, line_no))

    def err(msg: str, start: int) -> list[Token]:
        nonlocal line_pos, line_no
        line_no += text.count("\n", line_pos, start)
        line_pos = start
        toks.append((T_ERROR, msg, start, line_no))
        return toks

    def at_right(p: int) -> int:
        if p + 1 < n and text[p] in _SPACE and text[p + 1] == "-" and text.startswith("}}", p + 2):
            return 2
        return 1 if text.startswith("}}", p) else 0

    def at_term(p: int) -> bool:
        if p >= n:
            return True
        c = text[p]
        return c in _SPACE or c in ".,|:)(" or text.startswith("}}", p)

    def skip_space(p: int) -> int:
        while p < n and text[p] in _SPACE:
            p += 1
        return p

    def scan_word(p: int) -> int:
        while p < n and _is_alnum(text[p]):
            p += 1
        return p

    def scan_number(p: int) -> tuple[int, bool]:
        if p < n and text[p] in "+-":
            p += 1
        digits = _DEC
        if p < n and text[p] == "0":
            p += 1
            if p < n and text[p] in "xX":
                p, digits = p + 1, _HEX
            elif p < n and text[p] in "oO":
                p, digits = p + 1, "01234567_"
            elif p < n and text[p] in "bB":
                p, digits = p + 1, "01_"
        while p < n and text[p] in digits:
            p += 1
        if p < n and text[p] == ".":
            p += 1
            while p < n and text[p] in digits:
                p += 1
        exp = "eE" if digits is _DEC else "pP" if digits is _HEX else ""
        if exp and p < n and text[p] in exp:
            p += 1
            if p < n and text[p] in "+-":
                p += 1
            while p < n and text[p] in _DEC:
                p += 1
        if p < n and text[p] == "i":
            p += 1
        if p < n and _is_alnum(text[p]):
            return p + 1, False
        return p, True

    def scan_quoted(p: int, quote: str) -> int:
        """Index just past the closing quote, or -1 if unterminated."""
        while p < n:
            c = text[p]
            if c == "\\":
                p += 1
                if p >= n or text[p] == "\n":
                    return -1
            elif c == "\n":
                return -1
            elif c == quote:
                return p + 1
            p += 1
        return -1

    pos = 0
    while True:
        x = text.find("{{", pos)
        if x < 0:
            if pos < n:
                add(T_TEXT, pos, n)
            add(T_EOF, n, n)
            return toks
        after = x + 2
        ltrim = after + 1 < n and text[after] == "-" and text[after + 1] in _SPACE
        if x > pos:
            end = pos + len(text[pos:x].rstrip(_SPACE)) if ltrim else x
            if end > pos:
                add(T_TEXT, pos, end)
        if ltrim:
            after += 2
        if text.startswith("/*", after):
            close = text.find("*/", after + 2)
            if close < 0:
                return err("unclosed comment", after)
            r = at_right(close + 2)
            if not r:
                return err("comment ends before closing delimiter", after)
            pos = close + 2 + (4 if r == 2 else 2)
            if r == 2:
                pos = skip_space(pos)
            continue
        add(T_LEFT, x, x + 2)
        pos = after
        depth = 0
        while True:
            r = at_right(pos)
            if r:
                if depth:
                    return err("unclosed left paren", pos)
                if r == 2:
                    pos += 2
                add(T_RIGHT, pos, pos + 2)
                pos += 2
                if r == 2:
                    pos = skip_space(pos)
                break
            if pos >= n:
                return err("unclosed action", pos)
            c = text[pos]
            start = pos
            if c in _SPACE:
                pos = skip_space(pos)
                if text.startswith("-}}", pos):  # a trim-marked delimiter follows
                    pos -= 1
                    if pos == start:
                        continue
                add(T_SPACE, start, pos)
            elif c == "=":
                add(T_ASSIGN, pos, pos + 1)
                pos += 1
            elif c == ":":
                if not text.startswith(":=", pos):
                    return err("expected :=", start)
                add(T_DECLARE, pos, pos + 2)
                pos += 2
            elif c == "|":
                add(T_PIPE, pos, pos + 1)
                pos += 1
            elif c == '"' or c == "'":
                end = scan_quoted(pos + 1, c)
                if end < 0:
                    what = "quoted string" if c == '"' else "character constant"
                    return err(f"unterminated {what}", start)
                add(T_STRING if c == '"' else T_CHARCONST, pos, end)
                pos = end
            elif c == "`":
                end = text.find("`", pos + 1)
                if end < 0:
                    return err("unterminated raw quoted string", start)
                add(T_RAWSTRING, pos, end + 1)
                pos = end + 1
            elif c == "$" or (c == "." and pos + 1 < n and not "0" <= text[pos + 1] <= "9"):
                p = pos + 1
                if at_term(p):
                    add(T_VARIABLE if c == "$" else T_DOT, pos, p)
                else:
                    p = scan_word(p)
                    if not at_term(p):
                        return err(f"bad character {_fmt_rune(text[p])}", start)
                    add(T_VARIABLE if c == "$" else T_FIELD, pos, p)
                pos = p
            elif c in "+-." or "0" <= c <= "9":
                p, ok = scan_number(pos)
                if ok and p < n and text[p] in "+-":
                    p, ok = scan_number(p)
                    ok = ok and text[p - 1] == "i"
                    typ = T_COMPLEX
                else:
                    typ = T_NUMBER
                if not ok:
                    return err(f"bad number syntax: {go_quote(text[pos:p])}", start)
                add(typ, pos, p)
                pos = p
            elif _is_alnum(c):
                p = scan_word(pos)
                if not at_term(p):
                    return err(f"bad character {_fmt_rune(text[p])}", start)
                word = text[pos:p]
                typ = _KEYWORDS.get(word, T_IDENT)
                if (typ == T_BREAK and not break_ok) or (typ == T_CONTINUE and not continue_ok):
                    typ = T_IDENT
                elif word in ("true", "false"):
                    typ = T_BOOL
                add(typ, pos, p)
                pos = p
            elif c == "(":
                depth += 1
                add(T_LPAREN, pos, pos + 1)
                pos += 1
            elif c == ")":
                depth -= 1
                if depth < 0:
                    return err("unexpected right paren", start)
                add(T_RPAREN, pos, pos + 1)
                pos += 1
            elif c < "\x7f" and c.isprintable():
                add(T_CHAR, pos, pos + 1)
                pos += 1
            else:
                return err(f"unrecognized character in action: {_fmt_rune(c)}", start)


# --- literals -----------------------------------------------------------------

_SIMPLE_ESC = {"a": 7, "b": 8, "f": 12, "n": 10, "r": 13, "t": 9, "v": 11, "\\": 92}
_ESC_LEN = {"x": 2, "u": 4, "U": 8}


def _unquote_char(s: str, quote: str) -> tuple[int, bool, str]:
    """Go's ``strconv.UnquoteChar``: (code, is a raw byte, rest); ValueError if invalid."""
    c = s[0]
    if c == quote:
        raise ValueError
    if c != "\\":
        return ord(c), False, s[1:]
    if len(s) < 2:
        raise ValueError
    c, s = s[1], s[2:]
    if c in _SIMPLE_ESC:
        return _SIMPLE_ESC[c], False, s
    if c in _ESC_LEN:
        k = _ESC_LEN[c]
        h = s[:k]
        if len(h) < k or any(d not in "0123456789abcdefABCDEF" for d in h):
            raise ValueError
        v = int(h, 16)
        if c == "x":
            return v, True, s[k:]
        if v > 0x10FFFF or 0xD800 <= v < 0xE000:
            raise ValueError
        return v, False, s[k:]
    if c in "01234567":
        o = c + s[:2]
        if len(o) < 3 or any(d not in "01234567" for d in o) or int(o, 8) > 255:
            raise ValueError
        return int(o, 8), True, s[2:]
    if c in "'\"" and c == quote:
        return ord(c), False, s
    raise ValueError


def unquote(tok: str) -> str:
    """Go's ``strconv.Unquote`` of a string or raw-string token."""
    if tok[0] == "`":
        return tok[1:-1].replace("\r", "")
    body = tok[1:-1]
    if "\\" not in body:
        if '"' in body:
            raise ValueError
        return body
    buf = bytearray()
    while body:
        code, is_byte, body = _unquote_char(body, '"')
        if is_byte:
            buf.append(code)
        else:
            buf += chr(code).encode("utf-8", "surrogatepass")
    return buf.decode("utf-8", "replace")


def _parse_int(text: str) -> int | None:
    """Go's ``strconv.ParseInt(text, 0, 64)`` (a leading 0 means octal); None if invalid."""
    s = text.lstrip("+-")
    if len(text) - len(s) > 1 or not s:
        return None
    try:
        if len(s) > 1 and s[0] == "0" and s[1] not in "xXoObB":
            v = int(s[1:], 8) if s[1:].strip("_") else 0
        else:
            v = int(s, 0)
    except ValueError:
        return None
    return -v if text[0] == "-" else v


def number(text: str, typ: int) -> int | float | complex:
    """The value of a number or character token; ValueError with Go's message if bad."""
    if typ == T_CHARCONST:
        try:
            code, _, tail = _unquote_char(text[1:], "'")
        except (ValueError, IndexError):
            raise ValueError("invalid syntax") from None
        if tail != "'":
            raise ValueError(f"malformed character constant: {text}")
        return code
    if text.endswith("i"):
        try:
            return complex(text[:-1].replace("_", "") + "j")
        except ValueError:
            raise ValueError(f"illegal number syntax: {go_quote(text)}") from None
    v = _parse_int(text)
    if v is not None:
        return v
    try:
        f = float.fromhex(text) if "x" in text.lower() else float(text)
    except ValueError:
        raise ValueError(f"illegal number syntax: {go_quote(text)}") from None
    if not any(c in text for c in ".eEpP"):
        raise ValueError(f"integer overflow: {go_quote(text)}")
    return f
