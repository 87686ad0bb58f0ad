"""Render inspect results: Docker's indented JSON array, or a template per object."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from pynerd.format.gotemplate import compile_template
from pynerd.format.listing import expand_escapes

_HTML_ESCAPES = str.maketrans({"<": "\\u003c", ">": "\\u003e", "&": "\\u0026"})


def to_docker_json(value: Any, indent: int | None = 4) -> str:
    """JSON as Go's encoder writes it for inspect: 4-space indent, <>& escaped, UTF-8."""
    text = json.dumps(value, indent=indent, ensure_ascii=False)
    return text.translate(_HTML_ESCAPES)


def render_inspect(objects: Sequence[Any], fmt: str | None = None) -> str:
    """The whole output of an inspect command, newline-terminated."""
    if not fmt:
        if not objects:
            return "[]\n"
        return to_docker_json(list(objects)) + "\n"
    if fmt == "json":
        return to_docker_json(list(objects)) + "\n"
    t = compile_template(expand_escapes(fmt))
    return "".join(t.execute(o) + "\n" for o in objects)
