from __future__ import annotations

import json
from typing import Any

import pytest

from pynerd.errors import InvalidArgument
from pynerd.format.inspect import render_inspect
from pynerd.format.listing import ListingSpec, render_listing


class R:
    def __init__(self, id: str, name: str, labels: dict[str, str]) -> None:
        self.ID, self.Name, self._labels = id, name, labels

    def Label(self, key: str) -> str:
        return self._labels.get(key, "")

    def to_json(self) -> dict[str, Any]:
        return {"ID": self.ID, "Name": self.Name}


SPEC = ListingSpec(
    default_table="table {{.ID}}\t{{.Name}}",
    headers={"ID": "THING ID", "Name": "NAME", "Label": "LABEL"},
)
ROWS = [R("abc", "first", {"k": "v1"}), R("def", "second-longer-name", {})]


def test_default_table_has_headers_and_aligned_columns() -> None:
    assert render_listing(ROWS, SPEC) == (
        "THING ID   NAME\nabc        first\ndef        second-longer-name\n"
    )


def test_table_template_derives_headers_even_for_method_fields() -> None:
    out = render_listing(ROWS, SPEC, 'table {{.Name}}\t{{.Label "k"}}')
    assert out.splitlines() == [
        "NAME                 LABEL",
        "first                v1",
        "second-longer-name   ",
    ]


def test_plain_template_has_no_header_and_expands_escapes() -> None:
    assert (
        render_listing(ROWS, SPEC, "{{.ID}}\\t{{.Name}}") == "abc\tfirst\ndef\tsecond-longer-name\n"
    )


def test_json_is_one_object_per_line() -> None:
    lines = render_listing(ROWS, SPEC, "json").splitlines()
    assert [json.loads(x) for x in lines] == [r.to_json() for r in ROWS]


def test_quiet_prints_ids_and_empty_list_prints_only_headers() -> None:
    assert render_listing(ROWS, SPEC, quiet=True) == "abc\ndef\n"
    assert render_listing([], SPEC) == "THING ID   NAME\n"
    assert render_listing([], SPEC, "{{.ID}}") == ""


def test_bad_template_is_an_invalid_argument() -> None:
    with pytest.raises(InvalidArgument):
        render_listing(ROWS, SPEC, "{{.ID")


def test_inspect_is_a_four_space_indented_array_like_docker() -> None:
    out = render_inspect([{"Id": "x", "Tags": [], "Cfg": {"a<b": "&"}}])
    assert out == (
        '[\n    {\n        "Id": "x",\n        "Tags": [],\n        "Cfg": {\n'
        '            "a\\u003cb": "\\u0026"\n        }\n    }\n]\n'
    )
    assert render_inspect([]) == "[]\n"
    assert render_inspect([{"Id": "x"}, {"Id": "y"}], "{{.Id}}") == "x\ny\n"
