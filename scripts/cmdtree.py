"""pynerd's command tree as plain data, for the generators of completions and the reference.

Walks the Typer/click tree the CLI runs (every lazily loaded command is imported), so
what the generated files say is what ``pynerd`` parses. Used by
``scripts/gen-completions.py`` and ``scripts/gen-reference.py``; imports typer, never
used at run time.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# Value types shown for flags, in Docker's words (its --help prints "string", "list", ...).
_TYPE_WORDS = {
    "text": "string",
    "integer": "int",
    "float": "decimal",
    "choice": "string",
    "path": "string",
    "file": "string",
    "integer range": "int",
    "float range": "decimal",
}


@dataclass(frozen=True)
class Option:
    opts: tuple[str, ...]  # e.g. ("-a", "--all")
    secondary: tuple[str, ...]  # e.g. ("--no-trunc",) for on-by-default flags
    takes_value: bool
    value_type: str  # "" for flags; "string", "list", "int", ... otherwise
    help: str
    default: Any
    hidden: bool

    @property
    def long(self) -> str:
        return next((o for o in self.opts if o.startswith("--")), self.opts[0])

    @property
    def short(self) -> str | None:
        return next((o for o in self.opts if not o.startswith("--")), None)


@dataclass(frozen=True)
class Argument:
    name: str
    metavar: str
    many: bool
    required: bool


@dataclass
class Command:
    path: tuple[str, ...]
    help: str
    usage: str
    options: list[Option] = field(default_factory=list)
    arguments: list[Argument] = field(default_factory=list)
    subcommands: list[str] = field(default_factory=list)  # for groups
    section: str = ""  # top-level commands: the root help's section
    interspersed: bool = True  # False: flags end at the first argument (run IMAGE CMD --x)
    identity: Any = None  # the Python function behind it, to find aliases

    @property
    def name(self) -> str:
        return " ".join(self.path)

    @property
    def is_group(self) -> bool:
        return bool(self.subcommands)


def _root() -> Any:
    import typer

    try:  # the typer tree moved out of main.py when main() learnt a fast path
        from pynerd_cli.tree import app
    except ImportError:  # pragma: no cover - older layout
        from pynerd_cli.main import app  # type: ignore[attr-defined,no-redef]
    return typer.main.get_command(app)


def _option(p: Any) -> Option:
    takes_value = not (getattr(p, "is_flag", False) or getattr(p, "count", False))
    if not takes_value:
        value_type = ""
    elif getattr(p, "multiple", False):
        value_type = "list"
    else:
        value_type = _TYPE_WORDS.get(p.type.name, p.type.name)
    default = p.default
    if callable(default) or (not takes_value and default is False):
        default = None
    if isinstance(default, (list, tuple)) and not default:
        default = None
    return Option(
        opts=tuple(p.opts),
        secondary=tuple(p.secondary_opts),
        takes_value=takes_value,
        value_type=value_type,
        help=" ".join((p.help or "").split()),
        default=default,
        hidden=bool(getattr(p, "hidden", False)),
    )


def _command(cmd: Any, ctx: Any, path: tuple[str, ...]) -> Command:
    params = cmd.params
    c = Command(
        path=path,
        help=" ".join((cmd.help or cmd.short_help or "").split("\n\n")[0].split()),
        usage="",
        options=[_option(p) for p in params if p.param_type_name == "option"],
        arguments=[
            Argument(
                name=p.name,
                metavar=p.metavar or p.name.upper(),
                many=p.nargs == -1,
                required=bool(p.required),
            )
            for p in params
            if p.param_type_name == "argument"
        ],
    )
    settings = getattr(cmd, "context_settings", None) or {}
    c.interspersed = bool(settings.get("allow_interspersed_args", True))
    callback = getattr(cmd, "callback", None)
    c.identity = getattr(callback, "__wrapped__", callback)
    args = " ".join(a.metavar for a in c.arguments)
    if hasattr(cmd, "list_commands"):
        c.subcommands = list(cmd.list_commands(ctx))
        c.usage = f"pynerd {' '.join(path)} COMMAND"
    else:
        c.usage = " ".join(x for x in ("pynerd", *path, "[OPTIONS]", args) if x)
    return c


def walk() -> tuple[Command, list[Command]]:
    """(the root, with the global options; every command, groups and leaves, in order)."""
    from pynerd_cli.main import COMMANDS

    root = _root()
    ctx = type(root).context_class(root)
    top = _command(root, ctx, ())
    top.usage = "pynerd [OPTIONS] COMMAND"
    out: list[Command] = []

    def visit(cmd: Any, path: tuple[str, ...]) -> None:
        c = _command(cmd, ctx, path)
        if len(path) == 1:
            c.section = COMMANDS[path[0]][2]
            c.help = COMMANDS[path[0]][3]
        out.append(c)
        for sub in c.subcommands:
            sub_cmd = cmd.get_command(ctx, sub)
            if sub_cmd is not None and not getattr(sub_cmd, "hidden", False):
                visit(sub_cmd, (*path, sub))
        c.subcommands = [s for s in c.subcommands if any(x.path == (*path, s) for x in out)]

    for name in top.subcommands:
        if name.startswith("_"):
            continue
        visit(root.get_command(ctx, name), (name,))
    top.subcommands = [c.path[0] for c in out if len(c.path) == 1]
    return top, out
