"""The Go text/template engine renders and fails exactly as Go (and so Docker) does.

Expected outputs are Go's: each case is what ``text/template`` with Docker's
function map prints for the same template and equivalent data.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections import OrderedDict
from collections.abc import Iterator, Mapping
from typing import Any

import pytest

from pynerd.errors import InvalidArgument
from pynerd.format.gotemplate import Template, TemplateError, compile_template


def table(names: str, cases: list[tuple[Any, ...]]) -> pytest.MarkDecorator:
    """Parametrize a test over rows of ``(id, value...)``."""
    return pytest.mark.parametrize(names, [c[1:] for c in cases], ids=[c[0] for c in cases])


def render(text: str, data: object = None, funcs: Mapping[str, Any] | None = None) -> str:
    return compile_template(text, funcs).execute(data)


class Container:
    """A listing row as Docker's formatter.ContainerContext: methods and properties."""

    def __init__(self, key: str = "") -> None:
        self._labels = {"com.x": "1", "env": "prod"}
        self.Image = "alpine:3"
        self.Key = key

    def ID(self) -> str:
        return "0123456789ab"

    @property
    def Names(self) -> str:
        return "web"

    def Label(self, name: str) -> str:
        return self._labels.get(name, "")

    def Fail(self) -> str:
        raise ValueError("boom")

    def __str__(self) -> str:
        return "{web}"


class LabelMap(OrderedDict[str, Any]):
    """A Mapping with a method of its own, like a Go map type with methods."""

    def Get(self, key: str) -> Any:
        return self.get(key, "none")


INSPECT = {
    "Id": "abc123",
    "Name": "/web",
    "State": {"Status": "running", "Running": True, "Pid": 42, "Health": None},
    "Config": {
        "Env": ["A=1", "B=2"],
        "Labels": {"com.example.b": "2", "com.example.a": "1"},
        "Cmd": ["sh", "-c", "echo hi"],
        "Image": "alpine",
    },
    "Mounts": [
        {"Source": "/src", "Destination": "/dst"},
        {"Source": "/data", "Destination": "/var/data"},
    ],
    "NetworkSettings": {"Networks": {"bridge": {"IPAddress": "172.17.0.2"}}},
    "Args": ["-c", "echo hi"],
    "SizeRw": None,
}


# --- text, actions, trimming, comments ------------------------------------------------

TEXT_CASES = [
    ("plain", "hello", None, "hello"),
    ("empty", "", None, ""),
    ("action", "{{.A}}", {"A": "x"}, "x"),
    ("spaces inside", "{{  .A  }}", {"A": "x"}, "x"),
    ("newline inside action", "{{\n.A\n}}", {"A": "x"}, "x"),
    ("left trim", "a  \n {{- .A}}", {"A": "x"}, "ax"),
    ("right trim", "{{.A -}} \n\t b", {"A": "x"}, "xb"),
    ("both trims", "a {{- .A -}} b", {"A": "x"}, "axb"),
    ("minus number is not a trim", "a {{-3}} b", None, "a -3 b"),
    ("comment", "a{{/* a comment */}}b", None, "ab"),
    ("trimmed comment", "a {{- /* c */ -}} b", None, "ab"),
    ("multi-line comment", "a{{/*\nx\n*/}}b", None, "ab"),
    ("comment with delimiters inside", "a{{/* {{ }} */}}b", None, "ab"),
    ("text with braces", "{a} }} {", None, "{a} }} {"),
    ("unicode text", "héllo {{.A}} ✓", {"A": "wörld"}, "héllo wörld ✓"),
]


@table("text,data,want", TEXT_CASES)
def test_text_and_actions(text: str, data: object, want: str) -> None:
    assert render(text, data) == want


# --- fields and the data model ------------------------------------------------------

FIELD_CASES = [
    ("map key", "{{.Id}}", INSPECT, "abc123"),
    ("nested map", "{{.State.Running}}", INSPECT, "true"),
    ("nested int", "{{.State.Pid}}", INSPECT, "42"),
    ("missing key", "{{.Nope}}", INSPECT, "<no value>"),
    ("missing key chain", "{{.Nope.Deeper}}", INSPECT, "<no value>"),
    ("present nil", "{{.State.Health}}", INSPECT, "<nil>"),
    ("root dot map", "{{.}}", {"b": 1, "a": "x"}, "map[a:x b:1]"),
    ("root dot nil data", "{{.}}", None, "<no value>"),
    ("field of nil data", "{{.Foo}}", None, "<no value>"),
    ("dollar is root", "{{with .State}}{{$.Id}}{{end}}", INSPECT, "abc123"),
    ("dollar field", "{{$.Name}}", INSPECT, "/web"),
    ("method without args", "{{.ID}}", Container(), "0123456789ab"),
    ("property", "{{.Names}}", Container(), "web"),
    ("plain attribute", "{{.Image}}", Container(), "alpine:3"),
    ("method with arg", '{{.Label "com.x"}}', Container(), "1"),
    ("method with missing label", '{{.Label "nope"}}', Container(), ""),
    ("method with piped arg", '{{"env" | .Label}}', Container(), "prod"),
    ("method arg from field", "{{.Label .Key}}", Container(key="env"), "prod"),
    ("object printed", "{{.}}", Container(), "{web}"),
    ("mapping method", '{{.Get "k"}}', LabelMap(), "none"),
    ("mapping key", "{{.k}}", LabelMap(k="v"), "v"),
    ("parenthesized index then field", "{{(index .Mounts 1).Source}}", INSPECT, "/data"),
    ("variable field", "{{$m := index .Mounts 0}}{{$m.Destination}}", INSPECT, "/dst"),
    ("field on pipeline", "{{(.State).Status}}", INSPECT, "running"),
    ("list value", "{{.Args}}", INSPECT, "[-c echo hi]"),
    (
        "map of maps",
        "{{.NetworkSettings.Networks}}",
        INSPECT,
        "map[bridge:map[IPAddress:172.17.0.2]]",
    ),
]


@table("text,data,want", FIELD_CASES)
def test_fields(text: str, data: object, want: str) -> None:
    assert render(text, data) == want


def test_mapping_lookups_do_not_grow_a_defaultdict() -> None:
    from collections import defaultdict

    d: defaultdict[str, list[int]] = defaultdict(list)
    m = LabelMap(d=d)
    # an empty map indexes to "" (taken as map[string]string, like Docker's labels)
    assert render('{{.d.x}} {{index .d "y"}} {{.x}}', m) == "<no value>  <no value>"
    assert dict(d) == {}


def test_callable_values_are_called_like_methods() -> None:
    class Header(str):
        """A header cell answering method-style fields, as listing headers do."""

        def __call__(self, *args: object) -> Header:
            return self

    class HeaderRow:
        def __getattr__(self, name: str) -> Header:
            return Header(name.upper())

    assert render('{{.Names}}\t{{.Label "x"}}', HeaderRow()) == "NAMES\tLABEL"


def test_method_called_per_row_with_args() -> None:
    t = compile_template('{{.ID}}\t{{.Names}}\t{{.Label "env"}}')
    assert t.execute(Container()) == "0123456789ab\tweb\tprod"


# --- printing values like Go's fmt %v ----------------------------------------------------

PRINT_CASES = [
    ("true", True, "true"),
    ("false", False, "false"),
    ("int", 42, "42"),
    ("negative int", -7, "-7"),
    ("float", 1.5, "1.5"),
    ("integral float", 2.0, "2"),
    ("big float", 1e21, "1e+21"),
    ("million float", 1000000.0, "1e+06"),
    ("float below million", 123456.0, "123456"),
    ("seven digit float", 1234567.0, "1.234567e+06"),
    ("small float", 0.0001, "0.0001"),
    ("tiny float", 0.00001, "1e-05"),
    ("negative zero", -0.0, "-0"),
    ("infinity", float("inf"), "+Inf"),
    ("nan", float("nan"), "NaN"),
    ("string", "s", "s"),
    ("empty list", [], "[]"),
    ("list", ["a", "b", "c"], "[a b c]"),
    ("nested list", [[1, 2], [3]], "[[1 2] [3]]"),
    ("list with nil", ["a", None], "[a <nil>]"),
    ("tuple", (1, True), "[1 true]"),
    ("empty map", {}, "map[]"),
    ("map sorted keys", {"b": 2, "a": 1, "c": [1]}, "map[a:1 b:2 c:[1]]"),
    ("map int keys numeric order", {10: "x", 9: "y"}, "map[9:y 10:x]"),
    ("explicit nil", None, "<nil>"),
]


@table("value,want", PRINT_CASES)
def test_printing_values(value: object, want: str) -> None:
    assert render("{{.V}}", {"V": value}) == want


# --- literals ---------------------------------------------------------------------------

LITERAL_CASES = [
    ("string", '{{"hi"}}', "hi"),
    ("string escapes", r'{{"a\tb\n\"q\"\\"}}', 'a\tb\n"q"\\'),
    ("unicode escapes", r'{{"\u00e9\U0001F600\x41\101"}}', "é😀AA"),
    ("raw string", "{{`a\\nb`}}", "a\\nb"),
    ("int", "{{42}}", "42"),
    ("negative", "{{-5}}", "-5"),
    ("plus sign", "{{+5}}", "5"),
    ("hex", "{{0x1F}}", "31"),
    ("octal", "{{017}}", "15"),
    ("octal prefix", "{{0o17}}", "15"),
    ("binary", "{{0b101}}", "5"),
    ("underscores", "{{1_000}}", "1000"),
    ("float", "{{1.5}}", "1.5"),
    ("float integral", "{{2.0}}", "2"),
    ("exponent", "{{1e3}}", "1000"),
    ("leading dot float", "{{.5}}", "0.5"),
    ("char", "{{'a'}}", "97"),
    ("char escape", r"{{'\n'}}", "10"),
    ("true", "{{true}}", "true"),
    ("false", "{{false}}", "false"),
    ("dot literal", "{{.}}", "<no value>"),
]


@table("text,want", LITERAL_CASES)
def test_literals(text: str, want: str) -> None:
    assert render(text) == want


# --- pipelines and variables -----------------------------------------------------------

PIPE_CASES = [
    ("pipe to func", "{{.Name | upper}}", {"Name": "web"}, "WEB"),
    ("pipe chain", '{{.Name | printf "%s!" | upper}}', {"Name": "web"}, "WEB!"),
    ("pipe to printf q", '{{.A | printf "%q"}}', {"A": "x y"}, '"x y"'),
    ("parenthesized", '{{printf "%s-%s" (upper .A) (lower .B)}}', {"A": "a", "B": "B"}, "A-b"),
    ("paren pipeline", "{{(.A | upper)}}", {"A": "a"}, "A"),
    ("declare", "{{$x := .A}}{{$x}}", {"A": "v"}, "v"),
    ("declare prints nothing", "[{{$x := 1}}]", None, "[]"),
    ("assign", "{{$x := 1}}{{$x = 2}}{{$x}}", None, "2"),
    ("assign in inner scope", "{{$x := 1}}{{if true}}{{$x = 2}}{{end}}{{$x}}", None, "2"),
    ("shadow in inner scope", "{{$x := 1}}{{if true}}{{$x := 2}}{{$x}}{{end}}{{$x}}", None, "21"),
    ("assign in range", "{{$n := 0}}{{range .L}}{{$n = .}}{{end}}{{$n}}", {"L": [1, 2, 3]}, "3"),
    ("variable in if", "{{if $x := .A}}{{$x}}{{end}}", {"A": "yes"}, "yes"),
    ("variable in with", "{{with $x := .A}}{{$x}}{{.}}{{end}}", {"A": "y"}, "yy"),
    ("trailing pipe tolerated", "{{.A |}}", {"A": 1}, "1"),
]


@table("text,data,want", PIPE_CASES)
def test_pipelines_and_variables(text: str, data: object, want: str) -> None:
    assert render(text, data) == want


# --- control structures ----------------------------------------------------------------

CONTROL_CASES = [
    ("if true", "{{if .A}}y{{end}}", {"A": 1}, "y"),
    ("if missing", "{{if .A}}y{{end}}", {}, ""),
    ("if zero", "{{if .A}}y{{else}}n{{end}}", {"A": 0}, "n"),
    ("if zero float", "{{if .A}}y{{else}}n{{end}}", {"A": 0.0}, "n"),
    ("if empty string", "{{if .A}}y{{else}}n{{end}}", {"A": ""}, "n"),
    ("if empty list", "{{if .A}}y{{else}}n{{end}}", {"A": []}, "n"),
    ("if empty map", "{{if .A}}y{{else}}n{{end}}", {"A": {}}, "n"),
    ("if nil", "{{if .A}}y{{else}}n{{end}}", {"A": None}, "n"),
    ("if false", "{{if .A}}y{{else}}n{{end}}", {"A": False}, "n"),
    ("if object", "{{if .A}}y{{else}}n{{end}}", {"A": Container()}, "y"),
    ("else if", "{{if .A}}a{{else if .B}}b{{else}}c{{end}}", {"B": 1}, "b"),
    ("else if chain", "{{if .A}}a{{else if .B}}b{{else if .C}}c{{end}}", {"C": 1}, "c"),
    ("eq status", '{{if eq .Status "running"}}up{{else}}down{{end}}', {"Status": "running"}, "up"),
    ("eq status down", '{{if eq .Status "running"}}up{{else}}down{{end}}', {"Status": "x"}, "down"),
    ("with", "{{with .State}}{{.Status}}{{end}}", INSPECT, "running"),
    ("with empty", "{{with .A}}x{{else}}none{{end}}", {"A": ""}, "none"),
    ("else with", "{{with .A}}a{{else with .B}}{{.}}{{else}}c{{end}}", {"B": "b"}, "b"),
    ("range list", "{{range .L}}[{{.}}]{{end}}", {"L": ["a", "b"]}, "[a][b]"),
    ("range mounts", "{{range .Mounts}}{{.Source}} {{end}}", INSPECT, "/src /data "),
    (
        "range index elem",
        "{{range $i, $e := .L}}{{$i}}={{$e}} {{end}}",
        {"L": ["a", "b"]},
        "0=a 1=b ",
    ),
    ("range one var is elem", "{{range $e := .L}}{{$e}}{{end}}", {"L": ["a", "b"]}, "ab"),
    (
        "range map sorted",
        "{{range $k, $v := .M}}{{$k}}:{{$v}} {{end}}",
        {"M": {"b": 2, "a": 1}},
        "a:1 b:2 ",
    ),
    ("range map values", "{{range .M}}{{.}}{{end}}", {"M": {"b": 2, "a": 1}}, "12"),
    (
        "range labels",
        "{{range $k, $v := .Config.Labels}}{{$k}}={{$v}};{{end}}",
        INSPECT,
        "com.example.a=1;com.example.b=2;",
    ),
    ("range else on empty", "{{range .L}}x{{else}}empty{{end}}", {"L": []}, "empty"),
    ("range else on nil", "{{range .L}}x{{else}}empty{{end}}", {"L": None}, "empty"),
    ("range else on missing", "{{range .L}}x{{else}}empty{{end}}", {}, "empty"),
    ("range dollar inside", "{{range .L}}{{$.P}}{{.}}{{end}}", {"L": [1, 2], "P": "-"}, "-1-2"),
    ("range int", "{{range 3}}{{.}}{{end}}", None, "012"),
    ("break", "{{range .L}}{{if eq . 3}}{{break}}{{end}}{{.}}{{end}}", {"L": [1, 2, 3, 4]}, "12"),
    (
        "continue",
        "{{range .L}}{{if eq . 2}}{{continue}}{{end}}{{.}}{{end}}",
        {"L": [1, 2, 3]},
        "13",
    ),
    (
        "break inner only",
        "{{range .L}}{{range .}}{{break}}{{end}}{{.}}{{end}}",
        {"L": [[1], [2]]},
        "[1][2]",
    ),
    ("nested range", "{{range .L}}{{range .}}{{.}}{{end}};{{end}}", {"L": [[1, 2], [3]]}, "12;3;"),
]


@table("text,data,want", CONTROL_CASES)
def test_control(text: str, data: object, want: str) -> None:
    assert render(text, data) == want


TEMPLATE_CASES = [
    ("define and template", '{{define "x"}}[{{.}}]{{end}}{{template "x" .A}}', {"A": 1}, "[1]"),
    ("template without data", '{{define "x"}}[{{.}}]{{end}}{{template "x"}}', {}, "[<no value>]"),
    ("define after use", '{{template "x" 5}}{{define "x"}}<{{.}}>{{end}}', None, "<5>"),
    ("block", '{{block "b" .A}}<{{.}}>{{end}}!', {"A": "a"}, "<a>!"),
    (
        "templates do not see variables",
        '{{define "x"}}{{$}}{{end}}{{$y := 1}}{{template "x" "d"}}',
        None,
        "d",
    ),
    (
        "recursive template",
        '{{define "t"}}{{.N}}{{range .C}}({{template "t" .}}){{end}}{{end}}{{template "t" .}}',
        {"N": 1, "C": [{"N": 2, "C": []}, {"N": 3, "C": [{"N": 4}]}]},
        "1(2)(3(4))",
    ),
]


@table("text,data,want", TEMPLATE_CASES)
def test_define_template_block(text: str, data: object, want: str) -> None:
    assert render(text, data) == want


# --- Go builtins ----------------------------------------------------------------------

BUILTIN_CASES = [
    ("and all true", "{{and 1 2}}", None, "2"),
    ("and first false", '{{and 0 "x"}}', None, "0"),
    ("or first true", '{{or 0 "" "b" "c"}}', None, "b"),
    ("or all false", '{{or 0 ""}}', None, ""),
    ("and short-circuits", "{{and false (index .L 5)}}", {"L": []}, "false"),
    ("or short-circuits", "{{or true (index .L 5)}}", {"L": []}, "true"),
    ("and with piped", "{{.B | and .A}}", {"A": 1, "B": "b"}, "b"),
    ("not", "{{not 0}} {{not .A}}", {"A": "x"}, "true false"),
    ("len string bytes", '{{len "héllo"}}', None, "6"),
    ("len list", "{{len .L}}", {"L": [1, 2, 3]}, "3"),
    ("len map", "{{len .M}}", {"M": {"a": 1}}, "1"),
    ("len nil", "{{len .M}}", {"M": None}, "0"),
    ("index list", "{{index .L 1}}", {"L": ["a", "b"]}, "b"),
    ("index map", '{{index .Config.Labels "com.example.a"}}', INSPECT, "1"),
    ("index missing string label", '{{index .Config.Labels "nope"}}', INSPECT, ""),
    ("index nil label map", '{{index .L "nope"}}', {"L": None}, ""),
    ("index missing interface value", '{{index .M "nope"}}', {"M": {"a": 1}}, "<no value>"),
    ("index multi", '{{index .M "a" 1}}', {"M": {"a": [5, 6]}}, "6"),
    ("index no indexes", "{{index .L}}", {"L": [1]}, "[1]"),
    ("index string byte", '{{index "abc" 1}}', None, "98"),
    ("slice list", "{{slice .L 1 3}}", {"L": [1, 2, 3, 4]}, "[2 3]"),
    ("slice list from", "{{slice .L 2}}", {"L": [1, 2, 3]}, "[3]"),
    ("slice list all", "{{slice .L}}", {"L": [1, 2]}, "[1 2]"),
    ("slice string", '{{slice "hello" 1 3}}', None, "el"),
    ("print", '{{print 1 2 "a" "b" 3 nil}}', None, "1 2ab3 <nil>"),
    ("print missing", "{{print .Nope}}", {}, "<nil>"),
    ("println", "{{println .A 1}}", {"A": "x"}, "x 1\n"),
    ("printf", '{{printf "%s-%d" .A .B}}', {"A": "x", "B": 3}, "x-3"),
    ("eq", '{{eq .A "x"}}', {"A": "x"}, "true"),
    ("eq any of", '{{eq .A "a" "b" "x"}}', {"A": "x"}, "true"),
    ("eq ints", "{{eq 1 2}}", None, "false"),
    ("eq missing", '{{eq .Nope "x"}}', {}, "false"),
    ("eq nil nil", "{{eq .A nil}}", {"A": None}, "true"),
    ("eq bools", "{{eq .A true}}", {"A": True}, "true"),
    ("ne", "{{ne 1 2}}", None, "true"),
    ("lt", "{{lt 1 2}} {{lt 2 1}}", None, "true false"),
    ("le", "{{le 2 2}}", None, "true"),
    ("gt strings", '{{gt "b" "a"}}', None, "true"),
    ("ge floats", "{{ge 1.5 2.5}}", None, "false"),
    ("html", '{{html "<a href=\\"x\\">&\'"}}', None, "&lt;a href=&#34;x&#34;&gt;&amp;&#39;"),
    ("html missing", "{{html .Nope}}", {}, "&lt;no value&gt;"),
    ("js", "{{js .S}}", {"S": "a'b\"<>&=\\"}, "a\\'b\\\"\\u003C\\u003E\\u0026\\u003D\\\\"),
    ("urlquery", '{{urlquery "a b&c=d/é"}}', None, "a+b%26c%3Dd%2F%C3%A9"),
    ("call", "{{call .F 2 3}}", {"F": lambda a, b: a * b}, "6"),
]


@table("text,data,want", BUILTIN_CASES)
def test_builtins(text: str, data: object, want: str) -> None:
    assert render(text, data) == want


PRINTF_CASES = [
    ("%s %d", ["a", 3], "a 3"),
    ("%v", [[1, "b"]], "[1 b]"),
    ("%v", [{"b": 1, "a": 2}], "map[a:2 b:1]"),
    ("%q", ["hi\n"], '"hi\\n"'),
    ("%q", [65], "'A'"),
    ("%x %X", [255, "hi"], "ff 6869"),
    ("%o %b %#x %#o", [8, 5, 255, 8], "10 101 0xff 010"),
    ("%5s|%-5s|", ["ab", "cd"], "   ab|cd   |"),
    ("%-10s|", ["name"], "name      |"),
    ("%.2f %6.2f %-8.3f|", [3.14159, 3.14159, 2.5], "3.14   3.14 2.500   |"),
    ("%e %E", [1234.5678, 0.5], "1.234568e+03 5.000000E-01"),
    ("%g %g %g", [1e6, 100000.0, 0.5], "1e+06 100000 0.5"),
    ("%f", [1.0], "1.000000"),
    ("%t", [True], "true"),
    ("%05d %+d % d %3d|%-3d|", [-42, 5, 5, 7, 7], "-0042 +5  5   7|7  |"),
    ("%c %U", [0x41, 0x41], "A U+0041"),
    ("%T %T %T %T %T", ["s", 1, 1.5, [1], None], "string int float64 []interface {} <nil>"),
    ("%d%%", [50], "50%"),
    ("%.3s", ["abcdef"], "abc"),
    ("%5.1f|", [3.14159], "  3.1|"),
    ("%s", [None], "%!s(<nil>)"),
    ("%v", [None], "<nil>"),
    ("%d", ["x"], "%!d(string=x)"),
    ("%s", [1], "%!s(int=1)"),
    ("%d", [], "%!d(MISSING)"),
    ("%s", ["a", 1], "a%!(EXTRA int=1)"),
    ("%z", [1], "%!z(int=1)"),
    ("%", [], "%!(NOVERB)"),
    ("%[2]s %[1]s", ["a", "b"], "b a"),
    ("%*d|", [4, 7], "   7|"),
    ("%5d", [[1, 2]], "[    1     2]"),
    ("%x", ["héllo"], "68c3a96c6c6f"),
    ("%v %v", [True, 2.0], "true 2"),
]


@pytest.mark.parametrize(
    ("fmt", "args", "want"), PRINTF_CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(PRINTF_CASES)]
)
def test_printf_verbs(fmt: str, args: list[object], want: str) -> None:
    text = "{{printf .F" + "".join(f" (index .A {i})" for i in range(len(args))) + "}}"
    assert render(text, {"F": fmt, "A": args}) == want


# --- Docker's functions ----------------------------------------------------------------

DOCKER_CASES = [
    (
        "json map",
        "{{json .State}}",
        INSPECT,
        '{"Status":"running","Running":true,"Pid":42,"Health":null}',
    ),
    ("json keeps dict order", "{{json .M}}", {"M": {"b": 1, "a": 2}}, '{"b":1,"a":2}'),
    ("json no html escaping", "{{json .S}}", {"S": "<a&b>"}, '"<a&b>"'),
    ("json unicode kept", "{{json .S}}", {"S": "héllo"}, '"héllo"'),
    ("json line separator escaped", "{{json .S}}", {"S": "a\u2028b"}, '"a\\u2028b"'),
    ("json list", "{{json .Args}}", INSPECT, '["-c","echo hi"]'),
    ("json nil", "{{json .SizeRw}}", INSPECT, "null"),
    ("json missing", "{{json .Nope}}", INSPECT, "null"),
    (
        "json floats like Go",
        "{{json .F}}",
        {"F": [1.0, 1.5, 1e21, 1e-7, 0.00001, 1e20]},
        "[1,1.5,1e+21,1e-7,0.00001,100000000000000000000]",
    ),
    ("json nan prints nothing", "{{json .F}}", {"F": float("nan")}, ""),
    (
        "json object to_json",
        "{{json .}}",
        type("R", (), {"to_json": lambda s: {"ID": "x"}})(),
        '{"ID":"x"}',
    ),
    ("json object attributes", "{{json .}}", type("R", (), {})(), "{}"),
    ("split", '{{split .X ","}}', {"X": "a,b"}, "[a b]"),
    ("split no sep found", '{{split "abc" ","}}', None, "[abc]"),
    ("split empty string", '{{len (split "" ",")}}', None, "1"),
    ("split empty sep", '{{split "abc" ""}}', None, "[a b c]"),
    ("join", '{{join .Args " "}}', INSPECT, "-c echo hi"),
    ("join split", '{{join (split "a,b,c" ",") "-"}}', None, "a-b-c"),
    ("join nil", '{{join .L ","}}', {"L": None}, ""),
    ("title", '{{title "hello wide-world foo_bar"}}', None, "Hello Wide-World Foo_bar"),
    ("title keeps rest", '{{title "hELLO"}}', None, "HELLO"),
    ("lower", "{{lower .X}}", {"X": "ABC"}, "abc"),
    ("upper", "{{upper .X}}", {"X": "abc"}, "ABC"),
    ("pad", '{{pad "x" 2 3}}|', None, "  x   |"),
    ("pad empty", '{{pad "" 2 3}}|', None, "|"),
    ("truncate", "{{truncate .ID 5}}", {"ID": "0123456789"}, "01234"),
    ("truncate longer", "{{truncate .ID 50}}", {"ID": "0123"}, "0123"),
    ("truncate exact", "{{truncate .ID 4}}", {"ID": "0123"}, "0123"),
]


@table("text,data,want", DOCKER_CASES)
def test_docker_functions(text: str, data: object, want: str) -> None:
    assert render(text, data) == want


def test_json_of_whole_inspect_object_round_trips() -> None:
    import json

    assert json.loads(render("{{json .}}", INSPECT)) == INSPECT
    assert render("{{json .Config}}", INSPECT).startswith('{"Env":["A=1","B=2"],"Labels":')


# --- user functions ----------------------------------------------------------------


def test_user_funcs_extend_and_override_defaults() -> None:
    funcs = {"double": lambda x: x * 2, "upper": lambda s: "overridden"}
    assert render("{{double 21}} {{upper .A}}", {"A": "a"}, funcs) == "42 overridden"
    assert render("{{upper .A}}", {"A": "a"}) == "A"  # defaults untouched


def test_user_func_errors_are_reported_as_go_does() -> None:
    def boom(x: object) -> str:
        raise RuntimeError("bad input")

    with pytest.raises(TemplateError) as e:
        render("{{boom 1}}", None, {"boom": boom})
    assert str(e.value) == 'template: :1:2: executing "" at <boom 1>: error calling boom: bad input'


def test_user_funcs_named_break_make_break_a_function() -> None:
    assert render("{{break}}", None, {"break": lambda: "b"}) == "b"


# --- errors ---------------------------------------------------------------------------

PARSE_ERRORS = [
    ("{{ .Foo }", 'template: :1: unexpected "}" in operand'),
    ("{{.Foo}", "template: :1: bad character U+007D '}'"),
    ("{{foo}}", 'template: :1: function "foo" not defined'),
    ("{{.A", "template: :1: unclosed action"),
    ("a\n{{.A\n", "template: :3: unclosed action started at :2"),
    ("{{if .A}}x", "template: :1: unexpected EOF"),
    ("{{end}}", "template: :1: unexpected {{end}}"),
    ("{{else}}", "template: :1: unexpected {{else}}"),
    ("{{if .A}}{{else}}{{else}}{{end}}", "template: :1: expected end; found {{else}}"),
    ("{{}}", "template: :1: missing value for command"),
    ("{{if}}{{end}}", "template: :1: missing value for if"),
    ("{{range}}{{end}}", "template: :1: missing value for range"),
    ("{{$x}}", 'template: :1: undefined variable "$x"'),
    ("{{if true}}{{$y := 1}}{{end}}{{$y}}", 'template: :1: undefined variable "$y"'),
    ("{{break}}", "template: :1: {{break}} outside {{range}}"),
    ("{{continue}}", "template: :1: {{continue}} outside {{range}}"),
    ("{{/* x", "template: :1: unclosed comment"),
    ("{{/* x */ }}", "template: :1: comment ends before closing delimiter"),
    ('{{"abc}}', "template: :1: unterminated quoted string"),
    ("{{`abc}}", "template: :1: unterminated raw quoted string"),
    ("{{(.A}}", "template: :1: unclosed left paren"),
    ("{{.A)}}", "template: :1: unexpected right paren"),
    ("{{3 | 4}}", "template: :1: non executable command in pipeline stage 2"),
    ('{{"a".B}}', 'template: :1: unexpected . after term "\\"a\\""'),
    ("{{1a}}", 'template: :1: bad number syntax: "1a"'),
    ("{{09}}", 'template: :1: integer overflow: "09"'),
    ("{{.A := 1}}", 'template: :1: unexpected ":=" in operand'),
    ("{{$a, $b := 1}}", "template: :1: too many declarations in command"),
    ("{{range $a, $b, $c := .}}{{end}}", "template: :1: too many declarations in range"),
    ('{{"\\q"}}', "template: :1: invalid syntax"),
    ("{{'ab'}}", "template: :1: malformed character constant: 'ab'"),
    ("{{template .X}}", 'template: :1: unexpected ".X" in template clause'),
    ("{{\x01}}", "template: :1: unrecognized character in action: U+0001"),
    ("a\nb\n{{end}}", "template: :3: unexpected {{end}}"),
    (
        '{{define "x"}}a{{end}}{{define "x"}}b{{end}}',
        'template: :1: template: multiple definition of template "x"',
    ),
]


@pytest.mark.parametrize(("text", "msg"), PARSE_ERRORS)
def test_parse_errors(text: str, msg: str) -> None:
    with pytest.raises(TemplateError) as e:
        compile_template(text)
    assert str(e.value) == msg


# (template, data, line:col, template name, context node, message)
EXEC_ERRORS = [
    (
        "{{.State.Health.Status}}",
        INSPECT,
        "1:8",
        "",
        ".State.Health.Status",
        "nil pointer evaluating interface {}.Status",
    ),
    ("{{.Nope}}", Container(), "1:2", "", ".Nope", "can't evaluate field Nope in type Container"),
    ("{{.Id.X}}", INSPECT, "1:5", "", ".Id.X", "can't evaluate field X in type string"),
    (
        "{{._labels}}",
        Container(),
        "1:2",
        "",
        "._labels",
        "_labels is an unexported field of struct type Container",
    ),
    ("{{.Fail}}", Container(), "1:2", "", ".Fail", "error calling Fail: boom"),
    (
        "{{.Label}}",
        Container(),
        "1:2",
        "",
        ".Label",
        "wrong number of args for Label: want 1 got 0",
    ),
    ('{{.Id "x"}}', INSPECT, "1:2", "", ".Id", "Id is not a method but has arguments"),
    (
        "{{.Image 1}}",
        Container(),
        "1:2",
        "",
        ".Image",
        "Image has arguments but cannot be invoked as function",
    ),
    (
        "{{index .Args 5}}",
        INSPECT,
        "1:2",
        "",
        "index .Args 5",
        "error calling index: index out of range: 5",
    ),
    (
        "{{index .Args 2}}",
        INSPECT,
        "1:2",
        "",
        "index .Args 2",
        "error calling index: reflect: slice index out of range",
    ),
    (
        '{{index .Args "a"}}',
        INSPECT,
        "1:2",
        "",
        'index .Args "a"',
        "error calling index: cannot index slice/array with type string",
    ),
    (
        "{{index .Nope 1}}",
        INSPECT,
        "1:2",
        "",
        "index .Nope 1",
        "error calling index: index of untyped nil",
    ),
    (
        "{{index .State 1}}",
        INSPECT,
        "1:2",
        "",
        "index .State 1",
        "error calling index: value has type int; should be string",
    ),
    ("{{len 3}}", None, "1:2", "", "len 3", "error calling len: len of type int"),
    ("{{len 1 2}}", None, "1:2", "", "len", "wrong number of args for len: want 1 got 2"),
    ("{{not}}", None, "1:2", "", "not", "wrong number of args for not: want 1 got 0"),
    ("{{and}}", None, "1:2", "", "and", "wrong number of args for and: want at least 1 got 0"),
    ("{{eq 1}}", None, "1:2", "", "eq 1", "error calling eq: missing argument for comparison"),
    (
        '{{eq 1 "1"}}',
        None,
        "1:2",
        "",
        'eq 1 "1"',
        "error calling eq: incompatible types for comparison: int and string",
    ),
    (
        "{{lt 1 2.5}}",
        None,
        "1:2",
        "",
        "lt 1 2.5",
        "error calling lt: incompatible types for comparison: int and float64",
    ),
    (
        "{{lt true false}}",
        None,
        "1:2",
        "",
        "lt true false",
        "error calling lt: invalid type for comparison",
    ),
    (
        "{{eq .L .L}}",
        {"L": [1]},
        "1:2",
        "",
        "eq .L .L",
        "error calling eq: non-comparable type [1]: []interface {}",
    ),
    ("{{upper .Nope}}", {}, "1:8", "", ".Nope", "invalid value; expected string"),
    ("{{upper .N}}", {"N": 3}, "1:8", "", ".N", "wrong type for value; expected string; got int"),
    ("{{upper 3}}", None, "1:8", "", "3", "expected string; found 3"),
    ('{{pad "x" "a" 1}}', None, "1:10", "", '"a"', 'expected integer; found "a"'),
    (
        '{{join .L ","}}',
        {"L": [1, 2]},
        "1:7",
        "",
        ".L",
        "wrong type for value; expected []string; got []interface {}",
    ),
    ("{{printf .N}}", {"N": 3}, "1:9", "", ".N", "wrong type for value; expected string; got int"),
    ("{{range .S}}{{end}}", {"S": "abc"}, "1:8", "", ".S", "range can't iterate over abc"),
    ('{{template "nope"}}', None, "1:11", "", '{{template "nope"}}', 'template "nope" not defined'),
    ("{{nil}}", None, "1:2", "", "nil", "nil is not a command"),
    ("{{1 2}}", None, "1:2", "", "1", "can't give argument to non-function 1"),
    (
        "{{call .F 1}}",
        {"F": lambda a, b: a},
        "1:2",
        "",
        "call .F 1",
        "error calling call: wrong number of args for .F: got 1 want 2",
    ),
    (
        "{{call .X}}",
        {"X": 3},
        "1:2",
        "",
        "call .X",
        "error calling call: non-function .X of type int",
    ),
    ("a\n  {{.A.B}}", {"A": None}, "2:6", "", ".A.B", "nil pointer evaluating interface {}.B"),
    (
        '{{define "t"}}{{.X.Y}}{{end}}{{template "t" .}}',
        {"X": None},
        "1:18",
        "t",
        ".X.Y",
        "nil pointer evaluating interface {}.Y",
    ),
    (
        '{{define "r"}}{{template "r" .}}{{end}}{{template "r" .}}',
        None,
        "1:25",
        "r",
        '{{template "r" .}}',
        "exceeded maximum template depth (100)",
    ),
]


@pytest.mark.parametrize(("text", "data", "loc", "name", "node", "msg"), EXEC_ERRORS)
def test_execution_errors(
    text: str, data: object, loc: str, name: str, node: str, msg: str
) -> None:
    t = compile_template(text)  # parses fine: the failure is at execution
    with pytest.raises(TemplateError) as e:
        t.execute(data)
    assert str(e.value) == f'template: :{loc}: executing "{name}" at <{node}>: {msg}'


def test_template_error_is_an_invalid_argument() -> None:
    assert issubclass(TemplateError, InvalidArgument)
    with pytest.raises(InvalidArgument):
        compile_template("{{")


# --- API, caching, performance, import cost ------------------------------------------


def test_compile_template_caches_and_templates_are_reusable() -> None:
    t = compile_template("{{.A}}-cache")
    assert compile_template("{{.A}}-cache") is t
    assert isinstance(t, Template)
    assert [t.execute({"A": i}) for i in range(3)] == ["0-cache", "1-cache", "2-cache"]
    f = {"x": lambda: 1}
    assert compile_template("{{.A}}-cache", f) is not t
    assert compile_template("{{x}}", f) is compile_template("{{x}}", f)


def test_execution_state_does_not_leak_between_runs() -> None:
    t = compile_template("{{$x := .A}}{{range .L}}{{$x = .}}{{end}}{{$x}}")
    assert t.execute({"A": "a", "L": [1]}) == "1"
    assert t.execute({"A": "b", "L": []}) == "b"


def rows(n: int) -> Iterator[Container]:
    return (Container() for _ in range(n))


def test_rendering_a_thousand_rows_is_fast() -> None:
    t = compile_template("{{.ID}}\t{{.Names}}")
    objs = list(rows(1000))
    dicts = [{"ID": str(i), "Names": "n"} for i in range(1000)]
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        for r in objs:
            t.execute(r)
        for d in dicts:
            t.execute(d)
        best = min(best, time.perf_counter() - start)
    assert best < 0.05


def test_import_is_cheap() -> None:
    code = (
        "import sys\n"
        "before = set(sys.modules)\n"
        "import pynerd.format.gotemplate\n"
        "new = set(sys.modules) - before\n"
        "heavy = {'json', 'typing', 'inspect', 'urllib', 'urllib.parse', 'html', 're',\n"
        "         'dataclasses', 'enum', 'datetime', 'decimal'}\n"
        "print(sorted(new & heavy))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
