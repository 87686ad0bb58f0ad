"""The fast path of ``run`` and ``create``: Docker's flags parsed without typer or click.

Importing typer (with its vendored click) and building the 60-option ``run`` command
costs ~35 ms, a sixth of a ``run --rm`` of ``true``. :func:`plan` parses the command
lines that make up nearly every real ``run``/``create`` (``[global flags] run|create
[flags] IMAGE [COMMAND] [ARG...]``, also under ``container``) with the same flag table
as typer (:data:`pynerd_cli.runopts.FLAGS`) and click's rules:

* long options as ``--name value`` or ``--name=value``; short ones as ``-e K=V`` or
  ``-eK=V``, clustered flags (``-it``, ``-dit``) with at most one value-taking option
  last in the cluster (``-ite K=V``); the value is the next word whatever it is;
* a repeated option: the last value wins, a list option collects them in order;
* parsing stops at ``--`` or at the first word that is not an option (the image);
  everything after the image is the command, verbatim;
* integers are converted with ``int()``, as click does.

Anything else makes :func:`plan` return None and ``main()`` runs the typer command
tree instead, so the fast path never decides differently from typer: ``--help``,
an unknown option, a missing value or image, a value ``int()`` rejects,
``--flag=true``/``--flag=false`` (typer's path rewrites those, see
:mod:`pynerd_cli.compat`), ``-v``/``--version``, shell completion. Errors raised
while the command runs go through :func:`pynerd_cli.errors.run_call`.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from pynerd_cli import runopts
from pynerd_cli.context import GlobalOptions

STR, INT, LIST, BOOL = runopts.STR, runopts.INT, runopts.LIST, runopts.BOOL

# option → (destination, kind, value of a flag)
Spec = dict[str, tuple[str, str, Any]]

# The root command's options (pynerd_cli.tree.root), keyed as GlobalOptions' flags;
# -v/--version and --help are left to typer.
GLOBAL_SPEC: Spec = {
    "--data-root": ("data_root", STR, None),
    "--run-root": ("run_root", STR, None),
    "-n": ("namespace", STR, None),
    "--namespace": ("namespace", STR, None),
    "--snapshotter": ("snapshotter", STR, None),
    "--cni-path": ("cni_path", STR, None),
    "--cni-netconfpath": ("cni_netconfpath", STR, None),
    "--insecure-registry": ("insecure_registries", LIST, None),
    "--hosts-dir": ("hosts_dir", LIST, None),
    "-D": ("debug", BOOL, True),
    "--debug": ("debug", BOOL, True),
}
GLOBAL_KEYS = tuple(dict.fromkeys(dest for dest, _, _ in GLOBAL_SPEC.values()))


def _flag_spec() -> Spec:
    spec: Spec = {}
    for name, decls, kind, _, _ in runopts.FLAGS:
        for decl in decls:
            on, _, off = decl.partition("/")
            spec[on] = (name, kind, True)
            if off:
                spec[off] = (name, kind, False)
    return spec


RUN_SPEC = _flag_spec()
# command words → the function of runopts that runs it (typer's path calls it too)
COMMANDS = {
    ("run",): "run_container",
    ("create",): "create_container",
    ("container", "run"): "run_container",
    ("container", "create"): "create_container",
}


def plan(argv: list[str]) -> Callable[[], int] | None:
    """The command ``argv`` asks for, ready to call; None: leave it to typer."""
    if os.environ.get("_PYNERD_COMPLETE"):  # typer's shell completion protocol
        return None
    flags: dict[str, Any] = dict.fromkeys(GLOBAL_KEYS)
    i = parse_options(argv, 0, GLOBAL_SPEC, flags)
    if i is None:
        return None
    found = [(w, f) for w, f in COMMANDS.items() if tuple(argv[i : i + len(w)]) == w]
    if not found:
        return None
    words, function = found[0]
    args = argv[i + len(words) :]
    if _rewritten_by_typer(args):
        return None
    kw = runopts.defaults()
    j = parse_options(args, 0, RUN_SPEC, kw)
    if j is None or j >= len(args):  # no image: typer reports it
        return None
    kw["image"], kw["command"] = args[j], args[j + 1 :]
    options = GlobalOptions(flags)
    command: Callable[[dict[str, Any], GlobalOptions], int] = getattr(runopts, function)
    return lambda: command(kw, options)


def parse_options(args: list[str], i: int, spec: Spec, values: dict[str, Any]) -> int | None:
    """Options from ``args[i]`` on into ``values``; the index of the first argument after
    them (past a ``--``), or None where click's result would not be certain."""
    while i < len(args):
        arg = args[i]
        if arg == "--":
            return i + 1
        if len(arg) < 2 or arg[0] != "-":
            return i
        for option, attached in _split(arg, spec):
            entry = spec.get(option)
            if entry is None:
                return None
            if entry[1] == BOOL:
                if attached is not None:  # --flag=value
                    return None
                values[entry[0]] = entry[2]
                continue
            if attached is None:  # the value is the next word
                i += 1
                if i >= len(args):
                    return None
                attached = args[i]
            if not _store(values, entry, attached):
                return None
        i += 1
    return len(args)


def _split(arg: str, spec: Spec) -> list[tuple[str, str | None]]:
    """One option word → (option, value attached to it or None): ``--name=x`` →
    [("--name", "x")], ``-ite K=V``'s ``-ite`` → [("-i", None), ("-t", None), ("-e", None)],
    ``-eK=V`` → [("-e", "K=V")]: in a cluster, the first option that takes a value
    takes the rest of the word, if any (click's rule)."""
    if arg.startswith("--"):
        name, eq, value = arg.partition("=")
        return [(name, value if eq else None)]
    out: list[tuple[str, str | None]] = []
    for j in range(1, len(arg)):
        option = "-" + arg[j]
        entry = spec.get(option)
        if entry is not None and entry[1] != BOOL:
            out.append((option, arg[j + 1 :] or None))
            break
        out.append((option, None))
    return out


def _store(values: dict[str, Any], entry: tuple[str, str, Any], value: str) -> bool:
    dest, kind, _ = entry
    if kind == LIST:
        values[dest] = [*(values[dest] or ()), value]
    elif kind == INT:
        try:
            values[dest] = int(value)
        except ValueError:
            return False
    else:
        values[dest] = value
    return True


def _rewritten_by_typer(args: list[str]) -> bool:
    """Is there a ``--flag=value`` word that typer's path may rewrite (up to ``--``)?

    :func:`pynerd_cli.compat.rewrite_bool_flags` looks at every word, the command's
    too, so any boolean flag with an ``=`` sends the command line to typer.
    """
    for arg in args:
        if arg == "--":
            return False
        name, eq, _ = arg.partition("=")
        if eq and RUN_SPEC.get(name, ("", "", None))[1] == BOOL:
            return True
    return False
