"""``pynerd run`` and ``pynerd create`` (also ``container run/create``): typer's side.

Docker's flags are one table, :data:`pynerd_cli.runopts.FLAGS`, shared with the fast
path (:mod:`pynerd_cli.fastrun`); this module makes it the commands' signature for
typer, which therefore sees the same flags as if they were written out here.
"""

from __future__ import annotations

import inspect
from typing import Any

import typer
from pynerd_cli import runopts
from pynerd_cli.context import options_of

# Docker stops parsing flags at the image: everything after it is the command.
COMMAND_CONTEXT = {"help_option_names": ["--help"], "allow_interspersed_args": False}

_ANNOTATIONS: dict[str, Any] = {
    runopts.INT: int | None,
    runopts.LIST: list[str],
    runopts.BOOL: bool,
}


def _signature() -> inspect.Signature:
    """``(ctx, image, command, <every flag of the table>)`` with typer's defaults."""
    kind = inspect.Parameter.POSITIONAL_OR_KEYWORD
    params = [
        inspect.Parameter("ctx", kind, annotation=typer.Context),
        inspect.Parameter(
            "image", kind, default=typer.Argument(..., metavar="IMAGE"), annotation=str
        ),
        inspect.Parameter(
            "command",
            kind,
            default=typer.Argument(None, metavar="[COMMAND] [ARG...]"),
            annotation=list[str],
        ),
    ]
    for name, decls, flag_kind, default, help in runopts.FLAGS:
        if flag_kind == runopts.STR:
            annotation: Any = str | None if default is None else str
        else:
            annotation = _ANNOTATIONS[flag_kind]
        option = typer.Option(default, *decls, help=help, show_default=default is not True)
        params.append(inspect.Parameter(name, kind, default=option, annotation=annotation))
    return inspect.Signature(params)


def create(**kw: Any) -> None:
    """Create a new container."""
    runopts.create_container(kw, options_of(kw["ctx"]))


def run(**kw: Any) -> None:
    """Create and run a new container from an image."""
    raise typer.Exit(runopts.run_container(kw, options_of(kw["ctx"])))


_SIGNATURE = _signature()
for _fn in (create, run):
    _fn.__signature__ = _SIGNATURE  # type: ignore[attr-defined]
    _fn.__annotations__ = {p.name: p.annotation for p in _SIGNATURE.parameters.values()}
