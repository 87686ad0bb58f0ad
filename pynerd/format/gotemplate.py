"""Go text/template for Docker's ``--format``: same syntax, same output, same errors.

Docker users paste templates from Docker's docs and scripts and expect
identical text back, so this is a port of Go's semantics rather than a look-alike:
``{{.Names}}``, ``{{range}}``/``{{with}}``/``{{if}}``, pipelines, variables,
``{{define}}``/``{{template}}``/``{{block}}``, trim markers, Go's builtins
(``printf``, ``index``, ``eq``...) and Docker's helpers (``json``, ``join``,
``upper``, ``pad``, ``truncate``...), with Go's ``fmt`` printing of values.

Data are plain Python: a dict is a map (``.Key`` looks it up; an absent key
prints ``<no value>``), a list/tuple a slice, None a nil (prints ``<nil>``);
on any other object ``.Name`` reads the attribute and calls it if it is a
method, with the command's arguments (``{{.Label "com.x"}}``).

Parsing is the costly step and happens once in :func:`compile_template`
(cached); :meth:`Template.execute` then only walks the tree. Only cheap stdlib
modules are imported (``json`` lazily, by the ``json`` function) so the CLI
starts fast.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from pynerd.format.gotemplate_exec import Funcs, Program, TemplateError, run
from pynerd.format.gotemplate_funcs import BUILTINS, DOCKER_FUNCS
from pynerd.format.gotemplate_nodes import ListNode
from pynerd.format.gotemplate_parse import ParseError, Parser

__all__ = ["Template", "TemplateError", "compile_template"]

_DEFAULT_FUNCS: Funcs = {**BUILTINS, **DOCKER_FUNCS}


class Template:
    """A parsed template; execute it once per data item."""

    __slots__ = ("_prog", "_root", "text")

    def __init__(self, text: str, trees: dict[str, ListNode], funcs: Funcs) -> None:
        self.text = text
        self._root = trees[""]
        self._prog = Program(text, trees, funcs)

    def execute(self, data: object) -> str:
        """Render the template with ``data`` as dot; raises :class:`TemplateError`."""
        return run(self._prog, self._root, data)

    def __repr__(self) -> str:
        return f"Template({self.text!r})"


_CACHE: dict[object, Template] = {}
_CACHE_MAX = 64


def compile_template(
    text: str, funcs: Mapping[str, Callable[..., object]] | None = None
) -> Template:
    """Parse ``text`` once; ``funcs`` add to or override the default functions.

    Raises :class:`TemplateError` with Go's wording on a syntax error, e.g.
    ``template: :1: function "foo" not defined``.
    """
    key: object = text
    if funcs:
        try:
            key = (text, tuple(funcs.items()))
            hash(key)
        except TypeError:
            key = None
    cached = _CACHE.get(key) if key is not None else None
    if cached is not None:
        return cached
    all_funcs = {**_DEFAULT_FUNCS, **funcs} if funcs else _DEFAULT_FUNCS
    try:
        trees = Parser(text, all_funcs).parse()
    except ParseError as e:
        raise TemplateError(str(e)) from None
    except RecursionError:
        raise TemplateError("template: :1: max expression depth exceeded") from None
    t = Template(text, trees, all_funcs)
    if key is not None:
        if len(_CACHE) >= _CACHE_MAX:
            _CACHE.clear()
        _CACHE[key] = t
    return t
