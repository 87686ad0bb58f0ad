"""Where to send a registry's requests: containerd's ``hosts.toml`` plus Docker's certs.d files.

For a registry host (``docker.io``, ``127.0.0.1:5000``) the first of ``Config.hosts_dir`` that
has ``<host>/`` (or containerd's ``<host>_<port>_/``; else ``_default/``) is read:

* ``hosts.toml``: ``[host."https://mirror"]`` tables in file order (mirrors), then ``server``
  (the upstream). Keys per host: ``capabilities`` (pull, resolve, push), ``skip_verify``,
  ``ca`` (path or list), ``client`` (path, list of paths, or list of [cert, key] pairs),
  ``override_path``, ``header``. Top-level keys configure ``server``.
* without hosts.toml: Docker's layout, ``*.crt`` CA files and ``*.cert``/``*.key`` pairs.

Schemes, as Docker: HTTPS by default; plain HTTP for ``localhost``, 127.0.0.0/8 and ::1
(a TLS registry on loopback needs ``server = "https://…"`` in hosts.toml). For hosts in
``Config.insecure_registries`` we try HTTPS without certificate verification first and fall
back to plain HTTP when the TLS handshake or connection fails (``Endpoint.http_fallback``).
"""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from pynerd.config import Config
from pynerd.errors import ConfigError
from pynerd.registry.transport import TLSConfig

DOCKER_HUB = "docker.io"
HUB_UPSTREAM = "https://registry-1.docker.io"
CAPABILITIES = frozenset({"pull", "resolve", "push"})


@dataclass(frozen=True)
class Endpoint:
    """One place to talk to: a mirror or the upstream registry."""

    url_base: str  # scheme://host[:port]
    capabilities: frozenset[str] = CAPABILITIES
    tls_verify: bool = True
    ca_files: tuple[str, ...] = ()
    client_cert: tuple[str, str] | None = None  # (cert, key); key "" = inside the cert file
    override_path: bool = False
    path: str = "/v2"  # API root path on the host
    headers: tuple[tuple[str, str], ...] = ()
    mirror: bool = False
    http_fallback: bool = False

    @property
    def scheme(self) -> str:
        return urlsplit(self.url_base).scheme

    @property
    def host(self) -> str:
        """``host[:port]`` as in the URL: the key for credentials of a mirror."""
        return urlsplit(self.url_base).netloc

    @property
    def api_root(self) -> str:
        """``https://host/v2``: repository URLs are ``{api_root}/{path}/manifests/{ref}``."""
        return self.url_base + self.path

    def can(self, capability: str) -> bool:
        return capability in self.capabilities

    def tls(self) -> TLSConfig:
        return TLSConfig(self.tls_verify, self.ca_files, self.client_cert)

    def as_http(self) -> Endpoint:
        """The plain-HTTP twin used after an insecure host's HTTPS attempt failed."""
        return replace(self, url_base="http://" + self.host, http_fallback=False)


def is_loopback(host: str) -> bool:
    """``localhost``, 127.0.0.0/8 or ::1, with or without a port."""
    name = _hostname(host)
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def is_insecure(cfg: Config, host: str) -> bool:
    """Listed in ``insecure_registries`` (as ``host[:port]``, a URL, or a CIDR)."""
    name = _hostname(host)
    for raw in cfg.insecure_registries:
        entry = raw.strip()
        if "://" in entry:
            entry = urlsplit(entry).netloc
        entry = entry.rstrip("/")
        if entry in (host, name):
            return True
        if "/" in entry:
            try:
                if ipaddress.ip_address(name) in ipaddress.ip_network(entry, strict=False):
                    return True
            except ValueError:
                pass
    return False


def find_host_dir(dirs: tuple[str, ...] | list[str], host: str) -> Path | None:
    """The configuration directory for ``host``: the first hit over ``dirs``, else _default."""
    candidates = [host]
    if ":" in host and not host.endswith("]"):
        name, _, port = host.rpartition(":")
        candidates.insert(0, f"{name}_{port}_")  # containerd's form, ':' is awkward on disk
    for d in dirs:
        for c in candidates:
            p = Path(d) / c
            if p.is_dir():
                return p
    for d in dirs:
        p = Path(d) / "_default"
        if p.is_dir():
            return p
    return None


def endpoints(cfg: Config, host: str) -> list[Endpoint]:
    """Mirrors first (in file order), then the upstream server."""
    directory = find_host_dir(cfg.hosts_dir, host)
    toml_path = directory / "hosts.toml" if directory else None
    if toml_path is not None and toml_path.is_file():
        return _from_hosts_toml(cfg, host, toml_path)
    upstream = _default_upstream(cfg, host)
    if directory is not None:
        cas, pairs = _cert_files(directory)
        if cas or pairs:
            upstream = replace(
                upstream, ca_files=tuple(cas), client_cert=pairs[0] if pairs else None
            )
    return [upstream]


def _hostname(host: str) -> str:
    if host.startswith("["):
        return host[1:].partition("]")[0]
    if host.count(":") == 1:
        return host.partition(":")[0]
    return host


def _default_upstream(cfg: Config, host: str) -> Endpoint:
    if host == DOCKER_HUB:
        return Endpoint(HUB_UPSTREAM)
    if is_loopback(host):
        return Endpoint(f"http://{host}")
    if is_insecure(cfg, host):
        return Endpoint(f"https://{host}", tls_verify=False, http_fallback=True)
    return Endpoint(f"https://{host}")


def _cert_files(directory: Path) -> tuple[list[str], list[tuple[str, str]]]:
    cas: list[str] = []
    pairs: list[tuple[str, str]] = []
    try:
        names = sorted(os.listdir(directory))
    except OSError:
        return cas, pairs
    for name in names:
        path = directory / name
        if not path.is_file():
            continue
        if name.endswith(".crt"):
            cas.append(str(path))
        elif name.endswith(".cert"):
            key = directory / (name[: -len(".cert")] + ".key")
            pairs.append((str(path), str(key) if key.is_file() else ""))
    return cas, pairs


def _from_hosts_toml(cfg: Config, host: str, path: Path) -> list[Endpoint]:
    import tomli

    try:
        with open(path, "rb") as f:
            doc = tomli.load(f)
    except tomli.TOMLDecodeError as e:
        raise ConfigError(f"invalid TOML in {path}: {e}") from None
    except OSError as e:
        raise ConfigError(f"cannot read {path}: {e.strerror}") from None
    base = path.parent
    out: list[Endpoint] = []
    hosts = doc.get("host", {})
    if not isinstance(hosts, dict):
        raise ConfigError(f"invalid value for 'host' in {path}: expected tables")
    for url, table in hosts.items():
        if not isinstance(table, dict):
            raise ConfigError(f"invalid value for host {url!r} in {path}: expected a table")
        out.append(_endpoint(url, table, base, path, mirror=True))
    server = doc.get("server")
    if server is not None and not isinstance(server, str):
        raise ConfigError(f"invalid value for 'server' in {path}: expected a string")
    if server:
        out.append(_endpoint(server, doc, base, path, mirror=False))
    else:
        upstream = _default_upstream(cfg, host)
        configured = _endpoint(upstream.url_base, doc, base, path, mirror=False)
        if upstream.http_fallback and "skip_verify" not in doc:
            configured = replace(configured, tls_verify=False, http_fallback=True)
        out.append(configured)
    return out


def _endpoint(url: str, table: dict[str, Any], base: Path, origin: Path, mirror: bool) -> Endpoint:
    where = f"{origin}" + (f" (host {url!r})" if mirror else "")

    def bad(key: str, expected: str) -> ConfigError:
        return ConfigError(f"invalid value for {key!r} in {where}: expected {expected}")

    if not url.startswith(("http://", "https://")):
        url = "https://" + url
    parts = urlsplit(url)
    if not parts.netloc:
        raise ConfigError(f"invalid registry URL {url!r} in {origin}")
    override = table.get("override_path", False)
    if not isinstance(override, bool):
        raise bad("override_path", "true or false")
    api_path = parts.path.rstrip("/")
    if api_path:
        api_path = os.path.normpath(api_path)
        if not override and not api_path.endswith("/v2"):
            api_path += "/v2"
    elif not override:
        api_path = "/v2"

    caps_raw = table.get("capabilities")
    if caps_raw is None:
        caps = CAPABILITIES
    else:
        if not isinstance(caps_raw, list) or not all(isinstance(c, str) for c in caps_raw):
            raise bad("capabilities", "a list of strings")
        caps = frozenset(c.lower() for c in caps_raw)
        unknown = caps - CAPABILITIES
        if unknown:
            raise ConfigError(f"unknown capability {sorted(unknown)[0]!r} in {where}")

    skip = table.get("skip_verify", False)
    if not isinstance(skip, bool):
        raise bad("skip_verify", "true or false")

    def absolute(p: str) -> str:
        return p if os.path.isabs(p) else str(base / p)

    ca_raw = table.get("ca")
    if ca_raw is None:
        cas: tuple[str, ...] = ()
    elif isinstance(ca_raw, str):
        cas = (absolute(ca_raw),)
    elif isinstance(ca_raw, list) and all(isinstance(c, str) for c in ca_raw):
        cas = tuple(absolute(c) for c in ca_raw)
    else:
        raise bad("ca", "a path or a list of paths")

    pairs: list[tuple[str, str]] = []
    client = table.get("client")
    if isinstance(client, str):
        pairs.append((absolute(client), ""))
    elif isinstance(client, list):
        for item in client:
            if isinstance(item, str):
                pairs.append((absolute(item), ""))
            elif (
                isinstance(item, list) and len(item) == 2 and all(isinstance(x, str) for x in item)
            ):
                pairs.append((absolute(item[0]), absolute(item[1])))
            else:
                raise bad("client", "a path, a list of paths or of [cert, key] pairs")
    elif client is not None:
        raise bad("client", "a path, a list of paths or of [cert, key] pairs")

    header = table.get("header", {})
    if not isinstance(header, dict):
        raise bad("header", "a table")
    headers: list[tuple[str, str]] = []
    for k, v in header.items():
        if isinstance(v, str):
            headers.append((k, v))
        elif isinstance(v, list) and all(isinstance(x, str) for x in v):
            headers.append((k, ", ".join(v)))
        else:
            raise bad(f"header.{k}", "a string or a list of strings")

    return Endpoint(
        url_base=f"{parts.scheme}://{parts.netloc}",
        capabilities=caps,
        tls_verify=not skip,
        ca_files=cas,
        client_cert=pairs[0] if pairs else None,
        override_path=override,
        path=api_path,
        headers=tuple(headers),
        mirror=mirror,
    )
