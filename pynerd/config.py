"""Global configuration: flag > environment > TOML file > default.

The CLI passes the flags the user typed (None where absent); :func:`load`
merges them with ``PYNERD_*`` variables and the TOML file. Every key, flag and
variable is listed in docs/config.md.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pynerd.errors import ConfigError
from pynerd.structs import frozen_record, record_field, record_fields, replace

DEFAULT_TOML = "/etc/pynerd/pynerd.toml"
SNAPSHOTTERS = ("overlayfs", "native")
_NAMESPACE_RE = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9_.-]{0,75})$")


@frozen_record
class Config:
    """Resolved settings shared by every subsystem."""

    data_root: Path = Path("/var/lib/pynerd")
    run_root: Path = Path("/run/pynerd")
    namespace: str = "default"
    snapshotter: str = "overlayfs"
    cni_path: tuple[str, ...] = ("/usr/lib/cni", "/opt/cni/bin")
    cni_netconfpath: Path = Path("/etc/cni/net.d")
    insecure_registries: tuple[str, ...] = ()
    hosts_dir: tuple[str, ...] = (
        "/etc/pynerd/certs.d",
        "/etc/containerd/certs.d",
        "/etc/docker/certs.d",
    )
    debug: bool = False
    config_file: Path | None = record_field(default_factory=lambda: None, compare=False)

    @property
    def namespace_root(self) -> Path:
        """Per-namespace persistent state (containers, images, volumes, networks)."""
        return self.data_root / "namespaces" / self.namespace

    @property
    def namespace_run_root(self) -> Path:
        return self.run_root / self.namespace


# key -> (environment variable, kind). Kinds: path, str, bool, list (":" or "," separated).
_KEYS: dict[str, tuple[str, str]] = {
    "data_root": ("PYNERD_DATA_ROOT", "path"),
    "run_root": ("PYNERD_RUN_ROOT", "path"),
    "namespace": ("PYNERD_NAMESPACE", "str"),
    "snapshotter": ("PYNERD_SNAPSHOTTER", "str"),
    "cni_path": ("PYNERD_CNI_PATH", "pathlist"),
    "cni_netconfpath": ("PYNERD_CNI_NETCONFPATH", "path"),
    "insecure_registries": ("PYNERD_INSECURE_REGISTRY", "csv"),
    "hosts_dir": ("PYNERD_HOSTS_DIR", "pathlist"),
    "debug": ("PYNERD_DEBUG", "bool"),
}
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def _from_string(key: str, kind: str, raw: str, origin: str) -> Any:
    if kind == "path":
        return Path(raw)
    if kind == "bool":
        low = raw.strip().lower()
        if low in _TRUE:
            return True
        if low in _FALSE:
            return False
        raise ConfigError(f"invalid boolean {raw!r} for {key} in {origin}")
    if kind == "pathlist":
        return tuple(p for p in raw.split(":") if p)
    if kind == "csv":
        return tuple(p.strip() for p in raw.split(",") if p.strip())
    return raw


def _from_toml(key: str, kind: str, value: Any, origin: str) -> Any:
    def bad(expected: str) -> ConfigError:
        return ConfigError(f"invalid value for {key!r} in {origin}: expected {expected}")

    if kind in ("pathlist", "csv"):
        if isinstance(value, str):
            return _from_string(key, kind, value, origin)
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            return tuple(value)
        raise bad("a list of strings")
    if kind == "bool":
        if isinstance(value, bool):
            return value
        raise bad("true or false")
    if not isinstance(value, str):
        raise bad("a string")
    return Path(value) if kind == "path" else value


def read_toml(path: Path) -> dict[str, Any]:
    """Parse the config file; an unknown key names itself and the file."""
    import tomli

    try:
        with open(path, "rb") as f:
            data = tomli.load(f)
    except tomli.TOMLDecodeError as e:
        raise ConfigError(f"invalid TOML in {path}: {e}") from None
    except OSError as e:
        raise ConfigError(f"cannot read config file {path}: {e.strerror}") from None
    for key in data:
        if key not in _KEYS:
            raise ConfigError(f"unknown key {key!r} in {path}")
    return {k: _from_toml(k, _KEYS[k][1], v, str(path)) for k, v in data.items()}


def load(
    flags: Mapping[str, Any] | None = None, environ: Mapping[str, str] | None = None
) -> Config:
    """Resolve the configuration.

    ``flags`` maps config keys to command-line values; None means "not given".
    The TOML file is ``$PYNERD_TOML`` or /etc/pynerd/pynerd.toml; a missing
    default file is fine, a missing file named in PYNERD_TOML is an error, and
    an empty PYNERD_TOML means no file at all.
    """
    env = os.environ if environ is None else environ
    explicit = env.get("PYNERD_TOML")
    toml_path = Path(explicit or DEFAULT_TOML)
    values: dict[str, Any] = {}
    config_file: Path | None = None
    if explicit == "":
        pass
    elif explicit or toml_path.exists():
        values.update(read_toml(toml_path))
        config_file = toml_path
    for key, (var, kind) in _KEYS.items():
        raw = env.get(var)
        if raw is not None:
            values[key] = _from_string(key, kind, raw, f"${var}")
    for key, value in (flags or {}).items():
        if key not in _KEYS:
            raise ConfigError(f"unknown setting {key!r}")
        if value is None or value == () or value == []:
            continue
        kind = _KEYS[key][1]
        if kind in ("pathlist", "csv") and isinstance(value, (list, tuple)):
            # A repeatable flag; "a:b" inside one value is split like the variable.
            parts: list[str] = []
            for v in value:
                parts.extend(_from_string(key, kind, v, "flag"))
            value = tuple(parts)
        elif isinstance(value, str):
            value = _from_string(key, kind, value, "flag")
        values[key] = value
    cfg = replace(Config(), **values, config_file=config_file)
    validate(cfg)
    return cfg


def validate(cfg: Config) -> None:
    if not _NAMESPACE_RE.match(cfg.namespace):
        raise ConfigError(
            f"invalid namespace {cfg.namespace!r}: use letters, digits, '_', '.', '-' "
            "(starting with a letter or digit, at most 76 characters)"
        )
    if cfg.snapshotter not in SNAPSHOTTERS:
        raise ConfigError(
            f"unknown snapshotter {cfg.snapshotter!r} (choose {' or '.join(SNAPSHOTTERS)})"
        )
    for name in ("data_root", "run_root", "cni_netconfpath"):
        if not getattr(cfg, name).is_absolute():
            raise ConfigError(f"{name} must be an absolute path, got {getattr(cfg, name)}")


def config_keys() -> list[tuple[str, str]]:
    """(key, environment variable) pairs, for docs and `info`."""
    return [(name, _KEYS[name][0]) for name in record_fields(Config) if name in _KEYS]
