"""What the root command hands to every subcommand: the global flags, resolved lazily."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pynerd.config import Config


class GlobalOptions:
    """Global flags as typed; :meth:`config` merges them with env and TOML once."""

    def __init__(self, flags: dict[str, Any]) -> None:
        self.flags = flags
        self._config: Config | None = None

    def config(self) -> Config:
        if self._config is None:
            from pynerd import config

            self._config = config.load(self.flags)
        return self._config


def options_of(ctx: Any) -> GlobalOptions:
    """The global flags the root command parsed (a typer/click context's root object)."""
    root = ctx.find_root()
    obj = root.obj
    if not isinstance(obj, GlobalOptions):
        obj = root.obj = GlobalOptions({})
    return obj


def config_of(ctx: Any) -> Config:
    """The resolved configuration for the running command."""
    return options_of(ctx).config()
