"""The runtime side of CNI: ADD, CHECK and DEL of a network list (libcni's model, spec 1.0).

For each plugin of the list the runtime sends the plugin's own JSON with ``name`` and
``cniVersion`` replaced by the list's, ``prevResult`` (ADD: the previous plugin's result;
CHECK/DEL: the cached result of the ADD) and ``runtimeConfig`` (the capability arguments
the plugin declares in ``capabilities``), in an environment of CNI_COMMAND,
CNI_CONTAINERID, CNI_NETNS, CNI_IFNAME, CNI_ARGS and CNI_PATH.

ADD runs the plugins in order and caches the final result; DEL runs them in reverse and
removes the cache. Where pynerd deliberately differs from libcni:

- a failed ADD is rolled back with a DEL of the whole list (the spec's "should", which
  libcni leaves to its callers), so a failed ``run`` leaves no veth, lease or rule behind;
- a plugin whose config is nothing but ``type`` and ``capabilities`` is skipped when the
  attachment offers none of those capabilities (e.g. ``portmap`` for a container that
  publishes no port, ``tuning`` for one without ``--mac-address``): it would have nothing
  to do, and each plugin run costs a process (DEL of portmap alone is ~20 ms of iptables
  calls). The same rule, with the cached arguments, applies to CHECK and DEL;
- DEL must succeed when things are already gone: a netns that no longer exists is passed
  as an empty CNI_NETNS (what containerd does; plugins then only release host-side
  state), a missing or corrupt cache means no prevResult, and the cache file is removed
  after every successful DEL (libcni keeps it for lists older than 0.4.0).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import MappingProxyType
from typing import Any, NoReturn

from pynerd.errors import InvalidArgument
from pynerd.network.cni import cache, version
from pynerd.network.cni.config import NAME_RE, NetworkConfigList, parse_list
from pynerd.network.cni.errors import CNIError
from pynerd.network.cni.exec import PluginExecutor, SubprocessExecutor
from pynerd.network.cni.result import Result
from pynerd.structs import frozen_record, replace

IFNAME_MAX = 15  # IFNAMSIZ - 1
_IFNAME_BAD = re.compile(r"[/:\s]")


@frozen_record
class RuntimeConf:
    """One attachment of a container to a network (libcni's RuntimeConf).

    ``args`` become CNI_ARGS (``K=V;K2=V2``); ``capability_args`` are offered to every
    plugin, which receives in ``runtimeConfig`` only the keys it lists in ``capabilities``
    (e.g. ``portMappings``, ``ips``, ``mac``, ``dns``, ``bandwidth``).
    """

    container_id: str
    netns_path: str
    ifname: str = "eth0"
    args: Sequence[tuple[str, str]] = ()
    capability_args: Mapping[str, Any] = MappingProxyType({})


class CNI:
    """Runs network lists for containers; results are cached under ``cache_dir``/results."""

    def __init__(
        self,
        cni_path: Sequence[str],
        cache_dir: Path,
        executor: PluginExecutor | None = None,
    ) -> None:
        self.cni_path = tuple(cni_path)
        self.cache_dir = Path(cache_dir)
        self.executor: PluginExecutor = executor or SubprocessExecutor()
        self._found: dict[str, str] = {}

    # The three verbs.

    def add(self, net: NetworkConfigList, rt: RuntimeConf, *, rollback: bool = True) -> Result:
        """Attach: run every plugin's ADD in order; the last result, in the list's version.

        On failure the partial attachment is undone with :meth:`delete` (unless
        ``rollback`` is False) and the plugin's error is raised.
        """
        _validate(net.name, rt)
        prev: dict[str, Any] | None = None
        for plugin in net.plugins:
            if _idle(plugin, rt):
                continue
            try:
                out = self._run("ADD", net, plugin, prev, rt, rt.netns_path)
                prev = Result.from_dict(_parse_json(out), net.cni_version).to_dict(net.cni_version)
            except CNIError as e:
                self._fail(e.wrapped(f"plugin {_describe(plugin)} failed (add)"), net, rt, rollback)
        if prev is None:  # every plugin was capability-only and had nothing to do
            raise CNIError(f"network {net.name!r}: no plugin of the list ran")
        try:
            cache.write(
                self._cache_path(net.name, rt),
                cache.CacheEntry(
                    rt.container_id,
                    net.name,
                    rt.ifname,
                    net.raw,
                    rt.netns_path,
                    list(rt.args),
                    dict(rt.capability_args),
                    prev,
                ),
            )
        except OSError as e:
            err = CNIError(f"failed to set network {net.name!r} cached result: {e.strerror}")
            self._fail(err, net, rt, rollback)
        return Result.from_dict(prev)

    def check(self, net: NetworkConfigList, rt: RuntimeConf) -> None:
        """Verify the attachment: every plugin's CHECK, in order, with the cached result."""
        _validate(net.name, rt)
        if not version.at_least(net.cni_version, version.CHECK_MIN):
            raise CNIError(
                f"configuration version {net.cni_version!r} does not support the CHECK command"
            )
        if net.disable_check:
            return
        try:
            cached = self.get_cached(net, rt)
        except CNIError as e:
            raise e.wrapped(f"failed to get network {net.name!r} cached result") from None
        prev = cached.to_dict(net.cni_version) if cached is not None else None
        for plugin in net.plugins:
            if _idle(plugin, rt):
                continue
            try:
                self._run("CHECK", net, plugin, prev, rt, rt.netns_path)
            except CNIError as e:
                raise e.wrapped(f"plugin {_describe(plugin)} failed (check)") from None

    def delete(self, net: NetworkConfigList, rt: RuntimeConf) -> None:
        """Detach: every plugin's DEL in reverse order; idempotent, see the module doc."""
        _validate(net.name, rt)
        path = self._cache_path(net.name, rt)
        prev: dict[str, Any] | None = None
        if version.at_least(net.cni_version, "0.4.0"):
            try:
                cached = self.get_cached(net, rt)
            except CNIError:
                cache.remove(path)
                cached = None
            prev = cached.to_dict(net.cni_version) if cached is not None else None
        netns_path = rt.netns_path if rt.netns_path and _is_netns(rt.netns_path) else ""
        for plugin in reversed(net.plugins):
            if _idle(plugin, rt):
                continue
            try:
                self._run("DEL", net, plugin, prev, rt, netns_path)
            except CNIError as e:
                raise e.wrapped(f"plugin {_describe(plugin)} failed (delete)") from None
        cache.remove(path)

    # The cache.

    def get_cached(self, net: NetworkConfigList, rt: RuntimeConf) -> Result | None:
        """The result of the last ADD of this attachment, in the list's version, or None."""
        entry = cache.read(self._cache_path(net.name, rt))
        if entry is None or entry.result is None:
            return None
        return Result.from_dict(entry.result).as_version(net.cni_version)

    def get_cached_config(
        self, network: str, rt: RuntimeConf
    ) -> tuple[NetworkConfigList, RuntimeConf] | None:
        """The list and runtime arguments the attachment was ADDed with (to DEL it exactly,
        even after its config file changed or vanished); None if not cached."""
        entry = cache.read(self._cache_path(network, rt))
        if entry is None or not entry.config:
            return None
        net = parse_list(entry.config)
        return net, replace(rt, args=entry.cni_args, capability_args=entry.capability_args)

    def cache_file(self, network: str, rt: RuntimeConf) -> Path:
        return self._cache_path(network, rt)

    # Plumbing.

    def _cache_path(self, network: str, rt: RuntimeConf) -> Path:
        return cache.cache_path(self.cache_dir, network, rt.container_id, rt.ifname)

    def _fail(
        self, err: CNIError, net: NetworkConfigList, rt: RuntimeConf, rollback: bool
    ) -> NoReturn:
        if rollback:
            try:
                self.delete(net, rt)
            except CNIError as cleanup:
                err = CNIError(
                    f"{err.message} (and cleaning up failed: {cleanup.message})",
                    code=err.code,
                    msg=err.msg,
                    details=err.details,
                )
        raise err

    def _find(self, plugin_type: str) -> str:
        path = self._found.get(plugin_type)
        if path is None:
            from pynerd.network.plugins import find_plugin

            path = find_plugin(plugin_type, self.cni_path)
            if path is None:
                raise CNIError(
                    f"failed to find plugin {plugin_type!r} in path [{' '.join(self.cni_path)}]"
                )
            self._found[plugin_type] = path
        return path

    def _run(
        self,
        command: str,
        net: NetworkConfigList,
        plugin: dict[str, Any],
        prev: dict[str, Any] | None,
        rt: RuntimeConf,
        netns_path: str,
    ) -> bytes:
        binary = self._find(plugin["type"])
        conf = dict(plugin)
        conf["name"] = net.name
        conf["cniVersion"] = net.cni_version
        if prev is not None:
            conf["prevResult"] = prev
        runtime_config = {
            cap: rt.capability_args[cap]
            for cap, enabled in (plugin.get("capabilities") or {}).items()
            if enabled and cap in rt.capability_args
        }
        if runtime_config:
            conf["runtimeConfig"] = runtime_config
        env = {
            "CNI_COMMAND": command,
            "CNI_CONTAINERID": rt.container_id,
            "CNI_NETNS": netns_path,
            "CNI_ARGS": ";".join(f"{k}={v}" for k, v in rt.args),
            "CNI_IFNAME": rt.ifname,
            "CNI_PATH": ":".join(self.cni_path),
        }
        return self.executor.exec(binary, env, json.dumps(conf).encode())


def _idle(plugin: Mapping[str, Any], rt: RuntimeConf) -> bool:
    """A capability-only plugin with none of its capabilities offered (see the module doc)."""
    caps = plugin.get("capabilities")
    if not caps or set(plugin) - {"type", "capabilities", "name", "cniVersion"}:
        return False
    return not any(enabled and cap in rt.capability_args for cap, enabled in caps.items())


def _parse_json(out: bytes) -> Any:
    try:
        return json.loads(out)
    except ValueError:
        raise CNIError(
            f"invalid result from plugin: {out[:200].decode(errors='replace')!r}"
        ) from None


def _describe(plugin: Mapping[str, Any]) -> str:
    """``type="bridge"`` (plus the plugin's own ``name=…`` if it has one), as libcni says."""
    out = f'type="{plugin.get("type", "")}"'
    if plugin.get("name"):
        out += f' name="{plugin["name"]}"'
    return out


def _is_netns(path: str) -> bool:
    from pynerd.network.netns import is_netns

    return is_netns(path)


def _validate(network: str, rt: RuntimeConf) -> None:
    """libcni's checks; they also keep every name safe inside the cache file's name."""
    if not rt.container_id:
        raise InvalidArgument("missing container ID")
    if not NAME_RE.match(rt.container_id):
        raise InvalidArgument(f"invalid characters in container ID {rt.container_id!r}")
    if not NAME_RE.match(network):
        raise InvalidArgument(f"invalid characters in network name {network!r}")
    name = rt.ifname
    if not name:
        raise InvalidArgument("interface name is empty")
    if len(name) > IFNAME_MAX:
        raise InvalidArgument(
            f"interface name {name!r} is too long (at most {IFNAME_MAX} characters)"
        )
    if name in (".", "..") or _IFNAME_BAD.search(name):
        raise InvalidArgument(f"invalid interface name {name!r}")
