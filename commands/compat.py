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


def rewrite_bool_flags(params: list[Any], args: list[str]) -> list[str]:
    flags: dict[str, Any] = {}
    for p in params:
        if getattr(p, "is_flag", False) and not getattr(p, "count", False):
            for opt in p.opts:
                flags[opt] = p
    out = []
    for i, arg in enumerate(args):
        if arg == "--":
            out.extend(args[i:])
            break
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


class DockerCommand(TyperCommand):
    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        result: list[str] = super().parse_args(ctx, rewrite_bool_flags(self.params, args))
        return result
