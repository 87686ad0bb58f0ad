"""hosts.toml / certs.d resolution into an ordered list of endpoints."""

from __future__ import annotations

from pathlib import Path

import pytest

from pynerd.config import Config
from pynerd.errors import ConfigError
from pynerd.registry.hosts import (
    CAPABILITIES,
    Endpoint,
    endpoints,
    find_host_dir,
    is_insecure,
    is_loopback,
)


def cfg(*dirs: Path, insecure: tuple[str, ...] = ()) -> Config:
    return Config(hosts_dir=tuple(str(d) for d in dirs), insecure_registries=insecure)


def write(directory: Path, host: str, text: str) -> Path:
    d = directory / host
    d.mkdir(parents=True, exist_ok=True)
    (d / "hosts.toml").write_text(text)
    return d


@pytest.mark.parametrize(
    ("host", "url", "path"),
    [
        ("docker.io", "https://registry-1.docker.io", "/v2"),
        ("ghcr.io", "https://ghcr.io", "/v2"),
        ("registry.lan:5000", "https://registry.lan:5000", "/v2"),
        ("localhost", "http://localhost", "/v2"),
        ("localhost:5000", "http://localhost:5000", "/v2"),
        ("127.0.0.1:5000", "http://127.0.0.1:5000", "/v2"),
        ("127.1.2.3:5000", "http://127.1.2.3:5000", "/v2"),
        ("[::1]:5000", "http://[::1]:5000", "/v2"),
    ],
)
def test_defaults_without_configuration(tmp_path: Path, host: str, url: str, path: str) -> None:
    (ep,) = endpoints(cfg(tmp_path), host)
    assert ep.url_base == url
    assert ep.path == path and ep.api_root == url + path
    assert ep.capabilities == CAPABILITIES and ep.tls_verify and not ep.mirror
    assert not ep.http_fallback


def test_insecure_registry_tries_https_unverified_then_http(tmp_path: Path) -> None:
    (ep,) = endpoints(cfg(tmp_path, insecure=("registry.lan:5000",)), "registry.lan:5000")
    assert ep.url_base == "https://registry.lan:5000"
    assert ep.tls_verify is False and ep.http_fallback is True
    assert ep.as_http().url_base == "http://registry.lan:5000"
    assert ep.as_http().http_fallback is False


@pytest.mark.parametrize(
    ("entries", "host", "expected"),
    [
        (("registry.lan:5000",), "registry.lan:5000", True),
        (("registry.lan",), "registry.lan:5000", True),
        (("http://registry.lan:5000/",), "registry.lan:5000", True),
        (("10.0.0.0/8",), "10.1.2.3:5000", True),
        (("10.0.0.0/8",), "registry.lan", False),
        (("other:5000",), "registry.lan:5000", False),
        ((), "registry.lan", False),
    ],
)
def test_is_insecure(entries: tuple[str, ...], host: str, expected: bool) -> None:
    assert is_insecure(Config(insecure_registries=entries), host) is expected


@pytest.mark.parametrize(
    ("host", "expected"),
    [("localhost", True), ("localhost:80", True), ("127.0.0.1", True), ("127.9.9.9:1", True),
     ("[::1]:5000", True), ("::1", True), ("10.0.0.1:5000", False), ("example.com", False)],
)
def test_is_loopback(host: str, expected: bool) -> None:
    assert is_loopback(host) is expected


def test_mirrors_first_in_file_order_then_upstream(tmp_path: Path) -> None:
    write(tmp_path, "docker.io", """
server = "https://registry-1.docker.io"

[host."http://127.0.0.1:5001"]
  capabilities = ["pull", "resolve"]

[host."https://mirror.lan:5000/prefix"]
  capabilities = ["pull"]
  skip_verify = true
  ca = "mirror-ca.pem"
  client = [["client.cert", "/abs/client.key"]]
  [host."https://mirror.lan:5000/prefix".header]
    x-custom = "1"
    x-list = ["a", "b"]
""")
    eps = endpoints(cfg(tmp_path), "docker.io")
    assert [e.url_base for e in eps] == [
        "http://127.0.0.1:5001", "https://mirror.lan:5000", "https://registry-1.docker.io",
    ]
    first, second, upstream = eps
    assert first.mirror and first.capabilities == frozenset({"pull", "resolve"})
    assert first.api_root == "http://127.0.0.1:5001/v2"
    assert first.host == "127.0.0.1:5001"
    assert second.api_root == "https://mirror.lan:5000/prefix/v2"
    assert second.tls_verify is False
    assert second.ca_files == (str(tmp_path / "docker.io" / "mirror-ca.pem"),)
    assert second.client_cert == (str(tmp_path / "docker.io" / "client.cert"), "/abs/client.key")
    assert dict(second.headers) == {"x-custom": "1", "x-list": "a, b"}
    assert not upstream.mirror and upstream.capabilities == CAPABILITIES
    tls = second.tls()
    assert tls.verify is False and tls.ca_files == second.ca_files


def test_server_without_scheme_is_https_and_top_level_keys_apply(tmp_path: Path) -> None:
    write(tmp_path, "registry.lan", """
server = "registry.lan:8443"
capabilities = ["pull", "resolve"]
ca = ["/etc/ca1.pem", "ca2.pem"]
client = "both.pem"
""")
    (ep,) = endpoints(cfg(tmp_path), "registry.lan")
    assert ep.url_base == "https://registry.lan:8443"
    assert ep.capabilities == frozenset({"pull", "resolve"})
    assert ep.ca_files == ("/etc/ca1.pem", str(tmp_path / "registry.lan" / "ca2.pem"))
    assert ep.client_cert == (str(tmp_path / "registry.lan" / "both.pem"), "")


def test_override_path_keeps_the_path_as_api_root(tmp_path: Path) -> None:
    write(tmp_path, "docker.io", """
[host."https://proxy.lan/v2/dockerhub"]
  override_path = true
[host."https://proxy.lan/cache/v2"]
""")
    a, b, _ = endpoints(cfg(tmp_path), "docker.io")
    assert a.api_root == "https://proxy.lan/v2/dockerhub" and a.override_path
    assert b.api_root == "https://proxy.lan/cache/v2"


def test_hosts_toml_without_server_uses_the_default_upstream(tmp_path: Path) -> None:
    write(tmp_path, "127.0.0.1:5000", '[host."http://127.0.0.1:6000"]\n')
    eps = endpoints(cfg(tmp_path), "127.0.0.1:5000")
    assert [e.url_base for e in eps] == ["http://127.0.0.1:6000", "http://127.0.0.1:5000"]
    write(tmp_path, "insecure.lan", "")
    (ep,) = endpoints(cfg(tmp_path, insecure=("insecure.lan",)), "insecure.lan")
    assert ep.http_fallback and not ep.tls_verify


def test_containerd_port_directory_form_and_default_dir(tmp_path: Path) -> None:
    write(tmp_path, "registry.lan_5000_", 'server = "https://alt.lan"\n')
    assert endpoints(cfg(tmp_path), "registry.lan:5000")[0].url_base == "https://alt.lan"
    write(tmp_path, "_default", '[host."http://127.0.0.1:7000"]\n')
    eps = endpoints(cfg(tmp_path), "other.lan")
    assert [e.url_base for e in eps] == ["http://127.0.0.1:7000", "https://other.lan"]


def test_first_directory_with_the_host_wins(tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    write(b, "ghcr.io", 'server = "https://from-b"\n')
    write(a, "_default", 'server = "https://from-a-default"\n')
    assert find_host_dir([str(a), str(b)], "ghcr.io") == b / "ghcr.io"
    assert endpoints(cfg(a, b), "ghcr.io")[0].url_base == "https://from-b"
    write(a, "ghcr.io", 'server = "https://from-a"\n')
    assert endpoints(cfg(a, b), "ghcr.io")[0].url_base == "https://from-a"
    assert find_host_dir([str(tmp_path / "missing")], "ghcr.io") is None


def test_docker_certs_d_layout(tmp_path: Path) -> None:
    d = tmp_path / "registry.lan:5000"
    d.mkdir()
    for name in ("ca.crt", "client.cert", "client.key", "other.txt"):
        (d / name).write_text("x")
    (ep,) = endpoints(cfg(tmp_path), "registry.lan:5000")
    assert ep.url_base == "https://registry.lan:5000"
    assert ep.ca_files == (str(d / "ca.crt"),)
    assert ep.client_cert == (str(d / "client.cert"), str(d / "client.key"))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("server = [", "invalid TOML in"),
        ('server = 1', "invalid value for 'server'"),
        ('capabilities = ["pull", "fly"]', "unknown capability 'fly'"),
        ('skip_verify = "yes"', "invalid value for 'skip_verify'"),
        ("ca = 1", "invalid value for 'ca'"),
        ("client = [1]", "invalid value for 'client'"),
        ('override_path = "x"', "invalid value for 'override_path'"),
        ("host = 1", "invalid value for 'host'"),
        ("[header]\nx = 1", "invalid value for 'header.x'"),
    ],
)
def test_invalid_hosts_toml_names_the_file(tmp_path: Path, text: str, message: str) -> None:
    d = write(tmp_path, "registry.lan", text)
    with pytest.raises(ConfigError) as exc:
        endpoints(cfg(tmp_path), "registry.lan")
    assert message in str(exc.value)
    assert str(d / "hosts.toml") in str(exc.value)


def test_endpoint_helpers() -> None:
    ep = Endpoint("https://r.lan:5000", frozenset({"push"}))
    assert ep.scheme == "https" and ep.host == "r.lan:5000"
    assert ep.can("push") and not ep.can("pull")
    assert ep.tls().is_default
