"""Render listing rows (ps, images, volume ls, ...) as Docker does.

A listing command supplies rows (objects whose attributes are the template
fields, e.g. ``.ID``, ``.Names``) and a :class:`ListingSpec` naming the default
table and each field's column header. The ``--format`` value picks the shape:

* None, ``""`` or ``table``: the default table with headers;
* ``table TEMPLATE``: headers derived from the template, then one row per line;
* ``json``: each row's :meth:`to_json` object, one per line;
* anything else: the template executed per row, one line each.

``-q`` prints the quiet template (normally ``{{.ID}}``) and wins over a
non-table format only when no format is given, like Docker.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from pynerd.format.table import tabwrite

# Templates made only of plain fields ("{{.ID}}\t{{.Names}}") are rendered
# without the template engine: they are what listings print by default, and
# skipping the engine's import keeps `pynerd ps` fast.
_SIMPLE = re.compile(r"(?:\{\{\s*\.([A-Za-z_][A-Za-z0-9_]*)\s*\}\}|[^{}]+)*")
_FIELD = re.compile(r"\{\{\s*\.([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")


class Row(Protocol):
    def to_json(self) -> Mapping[str, Any]: ...


@dataclass(frozen=True)
class ListingSpec:
    """What a listing looks like by default."""

    default_table: str
    headers: Mapping[str, str]
    quiet: str = "{{.ID}}"
    extra_funcs: Mapping[str, Any] = field(default_factory=dict)


class _Header(str):
    """A header label that also answers method-style fields (``{{.Label "x"}}``)."""

    __slots__ = ()

    def __call__(self, *args: Any) -> _Header:
        return self


class HeaderRow:
    """Stands in for a row while the table's header line is rendered."""

    def __init__(self, headers: Mapping[str, str]) -> None:
        self._headers = headers

    def __getattr__(self, name: str) -> _Header:
        if name.startswith("_"):
            raise AttributeError(name)
        return _Header(self._headers.get(name, name.upper()))

    def __getitem__(self, name: str) -> _Header:
        return self.__getattr__(name)


def render_listing(
    rows: Iterable[Row],
    spec: ListingSpec,
    fmt: str | None = None,
    quiet: bool = False,
) -> str:
    """Return the listing text, each line newline-terminated."""
    fmt = (fmt or "").strip("\n")
    if quiet and (not fmt or fmt.strip() == "table"):
        return _per_row(rows, spec.quiet, spec)
    if fmt == "json":
        return "".join(
            json.dumps(r.to_json(), separators=(",", ":"), ensure_ascii=False) + "\n" for r in rows
        )
    if not fmt or fmt.strip() == "table":
        fmt = spec.default_table
    if fmt.startswith("table"):
        body = fmt[len("table") :].lstrip(" ")
        if quiet:
            return _per_row(rows, spec.quiet, spec)
        header = _render(expand_escapes(body), spec, [HeaderRow(spec.headers)])
        return tabwrite(header + _per_row(rows, body, spec))
    if quiet:
        return _per_row(rows, spec.quiet, spec)
    return _per_row(rows, fmt, spec)


def _per_row(rows: Iterable[Row], template: str, spec: ListingSpec) -> str:
    return _render(expand_escapes(template), spec, rows)


def _render(template: str, spec: ListingSpec, rows: Iterable[Any]) -> str:
    """Each row through ``template``, newline-terminated."""
    rows = list(rows)
    if _SIMPLE.fullmatch(template) and not spec.extra_funcs:
        parts = _FIELD.split(template)  # text, field, text, field, ..., text
        try:
            out = []
            for r in rows:
                line = []
                for i, part in enumerate(parts):
                    if i % 2 == 0:
                        line.append(part)
                        continue
                    value = getattr(r, part)
                    if not isinstance(value, str):
                        raise _NotSimple
                    line.append(value)
                out.append("".join(line) + "\n")
            return "".join(out)
        except (_NotSimple, AttributeError):
            pass  # let the engine produce Go's exact output or error
    from pynerd.format.gotemplate import compile_template

    t = compile_template(template, spec.extra_funcs)
    return "".join(t.execute(r) + "\n" for r in rows)


class _NotSimple(Exception):
    pass


def expand_escapes(template: str) -> str:
    r"""Docker turns literal ``\t`` and ``\n`` typed on a shell line into tab and newline."""
    return template.replace("\\t", "\t").replace("\\n", "\n")
