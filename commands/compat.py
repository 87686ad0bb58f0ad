"""Docker's flag syntax that click does not speak.

Docker (pflag) lets every boolean flag take an explicit value: ``--rm=false``,
``--sig-proxy=false``, ``-H=false``. Click's flags take no value, so before
parsing, :class:`DockerCommand` rewrites ``--flag=true`` to ``--flag`` and
``--flag=false`` to the flag's ``--no-flag`` form, or drops it when the flag is
off by default anyway. Scripts written for docker then parse unchanged.
"""

from __future__ import annotations

from typing import Any

from typer.core import TyperCommand

_TRUE = ("true", "1", "t", "yes")
_FALSE = ("false", "0", "f", "no")


def rewrite_bool_flags(params: list[Any], args: list[str], interspersed: bool = True) -> list[str]:
    """The rewrite above; with ``interspersed`` False (``run``, ``exec``: everything after
    the first argument belongs to the container's command) it stops at that argument,
    so ``run busybox echo --rm=false`` passes ``--rm=false`` to ``echo`` untouched."""
    flags: dict[str, Any] = {}
    valued: set[str] = set()
    for p in params:
        if getattr(p, "is_flag", False) and not getattr(p, "count", False):
            for opt in p.opts:
                flags[opt] = p
        elif getattr(p, "param_type_name", "") == "option" and not getattr(p, "count", False):
            valued.update(getattr(p, "opts", ()))
    out: list[str] = []
    skip_value = False
    for i, arg in enumerate(args):
        if skip_value:  # the value of the option before, e.g. --name NAME
            out.append(arg)
            skip_value = False
            continue
        if arg == "--" or (not interspersed and (not arg.startswith("-") or arg == "-")):
            out.extend(args[i:])
            break
        if arg in valued:
            skip_value = True
        name, sep, value = arg.partition("=")
        param = flags.get(name) if sep else None
        if param is None or value.lower() not in _TRUE + _FALSE:
            out.append(arg)
            continue
        if value.lower() in _TRUE:
            out.append(name)
        elif param.secondary_opts:
            out.append(param.secondary_opts[0])
        elif param.default:
            out.append(arg)  # no way to say "off": let click report it
        # else: off is the default, nothing to pass
    return out


def docker_pairs(items: list[str]) -> dict[str, str]:
    """Docker's ``--label``/``--opt`` lists: ``k=v``, or ``k`` for an empty value."""
    out: dict[str, str] = {}
    for item in items:
        key, _, value = item.partition("=")
        out[key] = value
    return out


class DockerCommand(TyperCommand):
    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        rewritten = rewrite_bool_flags(self.params, args, ctx.allow_interspersed_args)
        result: list[str] = super().parse_args(ctx, rewritten)
        return result
