"""The container's process: command, environment, user and cwd, as Docker derives them.

Shared by ``run``/``create`` (:func:`resolve_process`) and ``exec`` (:func:`exec_process`).
"""

from __future__ import annotations

import os
import posixpath
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from pynerd.containers.options import CreateOptions
from pynerd.containers.user import ensure_dir_in_root, resolve_user
from pynerd.errors import InvalidArgument
from pynerd.structs import frozen_record

DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


@frozen_record
class ProcessSpec:
    """The resolved process; ``user_text`` is the ``--user``/image User it came from."""

    args: list[str]
    env: list[str]
    cwd: str
    uid: int
    gid: int
    additional_gids: list[int]
    terminal: bool
    user_text: str


@frozen_record
class ExecOptions:
    """``docker exec`` flags, as typed. ``group_add`` is the container's ``--group-add``:
    Docker applies it to an exec ``--user`` too."""

    cmd: tuple[str, ...]
    env: tuple[str, ...] = ()
    env_files: tuple[str, ...] = ()
    user: str | None = None
    workdir: str | None = None
    tty: bool = False
    privileged: bool = False
    interactive: bool = False
    group_add: tuple[str, ...] = ()


# -- environment --------------------------------------------------------------------------


def read_env_file(path: str, environ: Mapping[str, str]) -> list[str]:
    """docker/cli's env-file grammar: ``K=V`` verbatim, ``K`` takes the caller's value or is
    dropped, blank lines and ``#`` comments skipped, whitespace in a name is an error."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        raise InvalidArgument(f"open {path}: {_go_strerror(e)}") from None
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    out = []
    for n, raw in enumerate(data.split(b"\n"), 1):
        try:
            text = raw.rstrip(b"\r").decode("utf-8")
        except UnicodeDecodeError:
            raise InvalidArgument(
                f"env file {path} contains invalid utf8 bytes at line {n}: {raw!r}"
            ) from None
        line = text.lstrip()
        if not line or line.startswith("#"):
            continue
        name, sep, value = line.partition("=")
        name = name.lstrip(" \t")
        if " " in name or "\t" in name:
            raise InvalidArgument(
                f"poorly formatted environment: variable '{name}' contains whitespaces"
            )
        if not name:
            raise InvalidArgument(
                f"poorly formatted environment: no variable name on line '{line}'"
            )
        if sep:
            out.append(f"{name}={value}")
        elif name.strip() in environ:
            out.append(f"{name.strip()}={environ[name.strip()]}")
    return out


def _go_strerror(e: OSError) -> str:
    msg = e.strerror or str(e)
    return msg[:1].lower() + msg[1:]


def user_env(env: Iterable[str], env_files: Iterable[str], environ: Mapping[str, str]) -> list[str]:
    """Env files first, then ``-e``; ``-e K`` takes the caller's value or stays bare ("unset")."""
    out = []
    for path in env_files:
        out += read_env_file(path, environ)
    for item in env:
        if item.startswith("="):
            raise InvalidArgument(f"invalid environment variable: {item}")
        if "=" not in item and item in environ:
            item = f"{item}={environ[item]}"
        out.append(item)
    return out


def _key(item: str) -> str:
    return item.partition("=")[0]


def merge_image_env(user: list[str], image: Iterable[str]) -> list[str]:
    """The daemon's merge: the user's entries, then the image's whose key the user left alone."""
    if not user:
        return list(image)
    keys = {_key(e) for e in user}
    return user + [e for e in image if _key(e) not in keys]


def replace_or_append(defaults: list[str], overrides: Iterable[str]) -> list[str]:
    """moby's ReplaceOrAppendEnvValues: same key replaces in place, bare ``K`` removes."""
    out: list[str | None] = list(defaults)
    index = {_key(e): i for i, e in enumerate(defaults)}
    for item in overrides:
        key, sep, _ = item.partition("=")
        if not sep:
            if key in index:
                out[index[key]] = None
            continue
        if key in index:
            out[index[key]] = item
        else:
            out.append(item)
    return [e for e in out if e is not None]


def _set_env(env: list[str], key: str, value: str) -> list[str]:
    return replace_or_append(env, [f"{key}={value}"])


# -- command, cwd, process ----------------------------------------------------------------


def resolve_args(opts: CreateOptions, image_config: Mapping[str, Any]) -> list[str]:
    """Docker's Entrypoint/Cmd merge: args replace Cmd; ``--entrypoint`` drops the image Cmd."""
    image_cmd = list(image_config.get("Cmd") or [])
    if opts.entrypoint is None:
        entrypoint = list(image_config.get("Entrypoint") or [])
        cmd = list(opts.command) or image_cmd
    else:
        entrypoint = [opts.entrypoint] if opts.entrypoint else []
        cmd = list(opts.command)
    args = entrypoint + cmd
    if not args:
        raise InvalidArgument("No command specified")
    return args


def _clean_abs(path: str) -> str:
    return posixpath.normpath("/" + path.lstrip("/"))


def check_workdir(path: str) -> str:
    if not path.startswith("/"):
        raise InvalidArgument(
            f"the working directory '{path}' is invalid, it needs to be an absolute path"
        )
    return _clean_abs(path)


def resolve_process(
    opts: CreateOptions, image_config: Mapping[str, Any] | None, rootfs: Path, hostname: str
) -> ProcessSpec:
    """Args, env, cwd and user of a new container. Creates a missing working directory in
    ``rootfs`` (root-owned, 0755, as Docker does) and reads its /etc/passwd and /etc/group."""
    cfg = image_config or {}
    args = resolve_args(opts, cfg)
    cwd = check_workdir(opts.workdir) if opts.workdir else _clean_abs(cfg.get("WorkingDir") or "")
    user_text = opts.user or cfg.get("User") or ""
    user = resolve_user(rootfs, user_text, opts.group_add)
    if cwd != "/":
        ensure_dir_in_root(rootfs, cwd)

    defaults = [f"PATH={DEFAULT_PATH}", f"HOSTNAME={hostname}"]
    if opts.tty:
        defaults.append("TERM=xterm")
    given = user_env(opts.env, opts.env_files, os.environ)
    env = replace_or_append(defaults, merge_image_env(given, cfg.get("Env") or []))
    if not any(_key(e) == "HOME" for e in env):
        env.append(f"HOME={user.home}")  # runc would add it from passwd; exec needs it too
    return ProcessSpec(
        args=args,
        env=env,
        cwd=cwd,
        uid=user.uid,
        gid=user.gid,
        additional_gids=user.additional_gids,
        terminal=opts.tty,
        user_text=user_text,
    )


def exec_process(
    opts: ExecOptions, container_spec: Mapping[str, Any], rootfs: Path
) -> dict[str, Any]:
    """The process.json for ``runc exec --process``: the container's process with the exec's
    args, tty, env additions, user, cwd and (``--privileged``) all capabilities."""
    import copy

    from pynerd.containers.caps import all_caps

    if not opts.cmd:
        raise InvalidArgument("No exec command specified")
    proc: dict[str, Any] = copy.deepcopy(dict(container_spec["process"]))
    proc["args"] = list(opts.cmd)
    proc["terminal"] = opts.tty
    env: list[str] = list(proc.get("env") or [])
    if opts.tty and not any(_key(e) == "TERM" for e in env):
        env = _set_env(env, "TERM", "xterm")
    if opts.user:
        user = resolve_user(rootfs, opts.user, opts.group_add)
        proc["user"] = {"uid": user.uid, "gid": user.gid, "additionalGids": user.additional_gids}
        env = _set_env(env, "HOME", user.home)
    proc["env"] = replace_or_append(env, user_env(opts.env, opts.env_files, os.environ))
    if opts.workdir:
        proc["cwd"] = check_workdir(opts.workdir)
    proc.setdefault("cwd", "/")
    if opts.privileged:
        caps = all_caps()
        proc["capabilities"] = {"bounding": caps, "effective": caps, "permitted": list(caps)}
    return proc


def stop_signal(opts: CreateOptions, image_config: Mapping[str, Any] | None) -> str:
    """The signal ``stop`` sends: ``--stop-signal``, else the image's, else SIGTERM; as a name
    (``SIGTERM``, ``SIGRTMIN+3``) that both runc and :func:`units.parse_signal` accept."""
    from pynerd.containers.units import parse_signal, signal_name

    text = opts.stop_signal or (image_config or {}).get("StopSignal") or "SIGTERM"
    return signal_name(parse_signal(text))
