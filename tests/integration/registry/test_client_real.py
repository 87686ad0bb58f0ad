"""RegistryClient against real docker-registry instances on 127.0.0.1 (plain, token, htpasswd).

Nothing here leaves the loopback interface: Docker Hub is only ever reached through hosts.toml
mirrors on 127.0.0.1 and an upstream ``server`` that points at a closed local port.
"""

from __future__ import annotations

import datetime
import gzip
import hashlib
import io
import ipaddress
import json
import socket
import ssl
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from pynerd.config import Config
from pynerd.errors import NotFound, Unavailable
from pynerd.registry import media
from pynerd.registry.auth import TokenCache
from pynerd.registry.client import RegistryClient
from pynerd.registry.credentials import Credentials, CredentialStore
from pynerd.registry.errors import RegistryUnavailable, Unauthorized
from pynerd.registry.reference import parse_reference
from pynerd.registry.transport import RequestsTransport
from tests.rig import images
from tests.rig.auth import RIG_PASSWORD, RIG_USER, AuthRegistry, TokenServer
from tests.rig.images import BuiltImage, BuiltIndex
from tests.rig.registry import Registry, free_port

pytestmark = pytest.mark.integration


def sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


@pytest.fixture
def transport() -> Iterator[RequestsTransport]:
    t = RequestsTransport(environ={})
    yield t
    t.close()


@pytest.fixture
def hosts_dir(tmp_path: Path) -> Path:
    d = tmp_path / "certs.d"
    d.mkdir()
    return d


@pytest.fixture
def store(tmp_path: Path) -> CredentialStore:
    return CredentialStore(tmp_path / "docker")


@pytest.fixture
def make_client(
    transport: RequestsTransport, hosts_dir: Path, store: CredentialStore
) -> Callable[..., RegistryClient]:
    sleeps: list[float] = []

    def make(tokens: TokenCache | None = None, **cfg: Any) -> RegistryClient:
        return RegistryClient(
            Config(hosts_dir=(str(hosts_dir),), **cfg),
            transport=transport,
            credentials=store,
            tokens=tokens or TokenCache(),
            sleep=sleeps.append,
        )

    return make


@pytest.fixture
def client(make_client: Callable[..., RegistryClient]) -> RegistryClient:
    return make_client()


class Opener:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.opened = 0

    def __call__(self) -> io.BytesIO:
        self.opened += 1
        return io.BytesIO(self.data)


# --------------------------------------------------------------------------------------------
# pull
# --------------------------------------------------------------------------------------------
def test_resolve_by_tag_and_digest(client: RegistryClient, busybox_image: BuiltImage) -> None:
    desc, body = client.resolve(parse_reference(busybox_image.ref))
    assert body == busybox_image.manifest
    assert desc.digest == busybox_image.manifest_digest
    assert desc.media_type == media.DOCKER_MANIFEST and desc.size == len(body)
    desc2, body2 = client.resolve(parse_reference(busybox_image.digest_ref))
    assert (desc2, body2) == (desc, body)


def test_resolve_indexes_and_fetch_children(
    client: RegistryClient, multiplatform_image: BuiltIndex
) -> None:
    for index in (multiplatform_image, multiplatform_image.variants["docker"]):
        ref = parse_reference(index.ref)
        desc, raw = client.resolve(ref)
        assert desc.media_type == index.media_type and desc.digest == index.digest
        for child in json.loads(raw)["manifests"]:
            body = client.fetch_manifest(ref, child["digest"])
            assert sha(body) == child["digest"] and len(body) == child["size"]


def test_fetch_and_verify_all_blobs(client: RegistryClient, multilayer_image: BuiltImage) -> None:
    for image in (multilayer_image, multilayer_image.variants["oci"]):
        ref = parse_reference(image.ref)
        desc, raw = client.resolve(ref)
        assert desc.media_type == image.media_type
        manifest = json.loads(raw)
        for d in [manifest["config"], *manifest["layers"]]:
            with client.fetch_blob(ref, d["digest"], verify=True) as blob:
                assert blob.offset == 0 and blob.size == d["size"]
                h = hashlib.sha256()
                for chunk in blob.iter_chunks(64 * 1024):
                    h.update(chunk)
            assert "sha256:" + h.hexdigest() == d["digest"]
            assert client.blob_exists(ref, d["digest"]) == d["size"]


def test_resume_a_blob_from_an_offset(client: RegistryClient, busybox_image: BuiltImage) -> None:
    ref = parse_reference(busybox_image.ref)
    layer = busybox_image.layers[0]
    with client.fetch_blob(ref, layer.digest) as blob:
        full = blob.read()
    offset = len(full) // 3
    with client.fetch_blob(ref, layer.digest, offset=offset) as blob:
        assert blob.offset == offset and blob.size == layer.size
        tail = blob.read()
    assert full[:offset] + tail == full and sha(full) == layer.digest
    with client.fetch_blob(ref, layer.digest, offset=layer.size) as blob:
        assert blob.read() == b""


def test_not_found_messages(
    client: RegistryClient, registry: Registry, busybox_image: BuiltImage
) -> None:
    with pytest.raises(NotFound) as exc:
        client.resolve(parse_reference(f"{registry.host}/busybox:nope"))
    assert str(exc.value) == (
        f"manifest for {registry.host}/busybox:nope not found: manifest unknown: manifest unknown"
    )
    with pytest.raises(NotFound, match="blob unknown"):
        client.fetch_blob(parse_reference(busybox_image.ref), sha(b"missing"))


def test_unreachable_registry(client: RegistryClient) -> None:
    port = free_port()
    with pytest.raises(Unavailable) as exc:
        client.resolve(parse_reference(f"127.0.0.1:{port}/x:1"))
    assert str(exc.value) == (
        f"cannot reach 127.0.0.1:{port}: connection refused "
        f"(GET http://127.0.0.1:{port}/v2/x/manifests/1)"
    )


def test_proxy_variables_never_apply_to_loopback(
    hosts_dir: Path, store: CredentialStore, busybox_image: BuiltImage
) -> None:
    dead_proxy = f"http://127.0.0.1:{free_port()}"
    t = RequestsTransport(environ={"HTTP_PROXY": dead_proxy, "HTTPS_PROXY": dead_proxy})
    try:
        c = RegistryClient(Config(hosts_dir=(str(hosts_dir),)), transport=t, credentials=store)
        assert c.resolve(parse_reference(busybox_image.ref))[0].digest == (
            busybox_image.manifest_digest
        )
    finally:
        t.close()


def test_dropped_connections_are_retried_then_reported(
    make_client: Callable[..., RegistryClient],
) -> None:
    """A server that accepts and hangs up at once: retried, then one clean error."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    port = listener.getsockname()[1]
    accepted = []
    stop = threading.Event()

    def serve() -> None:
        listener.settimeout(0.1)
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                continue
            accepted.append(1)
            conn.recv(65536)
            conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        with pytest.raises(RegistryUnavailable) as exc:
            make_client().resolve(parse_reference(f"127.0.0.1:{port}/x:1"))
    finally:
        stop.set()
        thread.join(5)
        listener.close()
    assert exc.value.transport_kind == "dropped"
    # "connection reset by peer" or "connection dropped: …", depending on timing
    assert str(exc.value).startswith(f"cannot reach 127.0.0.1:{port}: connection ")
    assert len(accepted) == 4


# --------------------------------------------------------------------------------------------
# push
# --------------------------------------------------------------------------------------------
def _image(seed: str) -> tuple[bytes, bytes, bytes]:
    layer = gzip.compress(seed.encode() * 1000, mtime=0)
    config = json.dumps(
        {
            "architecture": "amd64",
            "os": "linux",
            "rootfs": {"type": "layers", "diff_ids": [sha(gzip.decompress(layer))]},
        }
    ).encode()
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": media.OCI_MANIFEST,
            "config": {"mediaType": media.OCI_CONFIG, "digest": sha(config), "size": len(config)},
            "layers": [
                {"mediaType": media.OCI_LAYER_GZIP, "digest": sha(layer), "size": len(layer)}
            ],
        }
    ).encode()
    return layer, config, manifest


def test_push_new_repo_then_resolve(
    client: RegistryClient, registry: Registry, unique_name: Callable[..., str]
) -> None:
    repo = unique_name("push")
    ref = parse_reference(f"{registry.host}/{repo}:v1")
    layer, config, manifest = _image(repo)
    for blob in (layer, config):
        assert client.blob_exists(ref, sha(blob)) is None
        client.push_blob(ref, sha(blob), len(blob), Opener(blob))
        assert client.blob_exists(ref, sha(blob)) == len(blob)
    digest = client.put_manifest(ref, manifest, media.OCI_MANIFEST)
    assert digest == sha(manifest)
    desc, body = client.resolve(ref)
    assert (desc.digest, desc.media_type, body) == (digest, media.OCI_MANIFEST, manifest)
    assert registry.get_blob(repo, sha(layer)) == layer
    assert client.list_tags(ref) == ["v1"]
    # again: everything exists, nothing is uploaded
    opener = Opener(layer)
    client.push_blob(ref, sha(layer), len(layer), opener)
    assert opener.opened == 0


def test_chunked_upload(
    client: RegistryClient, registry: Registry, unique_name: Callable[..., str]
) -> None:
    repo = unique_name("chunk")
    data = hashlib.sha256(repo.encode()).digest() * 10_000  # 320 KB
    client.monolithic_limit = 100_000
    client.chunk_size = 64 * 1024
    client.push_blob(parse_reference(f"{registry.host}/{repo}"), sha(data), len(data), Opener(data))
    assert registry.get_blob(repo, sha(data)) == data


def test_cross_repo_mount(
    client: RegistryClient,
    registry: Registry,
    busybox_image: BuiltImage,
    unique_name: Callable[..., str],
) -> None:
    target = parse_reference(f"{registry.host}/{unique_name('mount')}:1")
    layer = busybox_image.layers[0]
    opener = Opener(b"never read")
    client.push_blob(target, layer.digest, layer.size, opener, mount_from=["busybox"])
    assert opener.opened == 0  # the registry answered 201 to the mount
    assert client.blob_exists(target, layer.digest) == layer.size


# --------------------------------------------------------------------------------------------
# mirrors
# --------------------------------------------------------------------------------------------
def test_docker_hub_through_a_local_mirror(
    make_client: Callable[..., RegistryClient],
    hosts_dir: Path,
    registry: Registry,
    unique_name: Callable[..., str],
) -> None:
    repo = unique_name("mirrored")
    image = images.build_busybox(registry, repo=f"library/{repo}", tag="stable")
    dead = free_port()
    (hosts_dir / "docker.io").mkdir()
    (hosts_dir / "docker.io" / "hosts.toml").write_text(f"""
# The upstream is a closed local port: this test never leaves 127.0.0.1.
server = "http://127.0.0.1:{dead}"

[host."http://127.0.0.1:{free_port()}"]
  capabilities = ["pull", "resolve"]

[host."http://{registry.host}"]
  capabilities = ["pull", "resolve"]
""")
    client = make_client()
    ref = parse_reference(f"docker.io/library/{repo}:stable")
    assert ref.familiar() == f"{repo}:stable"
    desc, body = client.resolve(ref)
    assert desc.digest == image.manifest_digest and body == image.manifest
    with client.fetch_blob(parse_reference(repo), image.layers[0].digest, verify=True) as blob:
        assert len(blob.read()) == image.layers[0].size
    with pytest.raises(Unavailable, match=f"cannot reach 127.0.0.1:{dead}"):
        client.resolve(parse_reference(f"{repo}:missing"))  # falls through to the upstream


# --------------------------------------------------------------------------------------------
# token auth
# --------------------------------------------------------------------------------------------
def test_token_auth_pull_requires_login(
    make_client: Callable[..., RegistryClient],
    token_registry: AuthRegistry,
    token_server: TokenServer,
    busybox_image: BuiltImage,
    store: CredentialStore,
) -> None:
    ref = parse_reference(f"{token_registry.host}/busybox:latest")
    client = make_client()
    with pytest.raises(Unauthorized) as exc:
        client.resolve(ref)
    assert str(exc.value) == (
        f"pull access denied for {token_registry.host}/busybox, repository does not exist or "
        "may require authentication: unauthorized: authentication required; "
        f"run 'pynerd login {token_registry.host}'"
    )
    with pytest.raises(Unauthorized, match="failed with status: 401 Unauthorized"):
        client.login(token_registry.host, RIG_USER, "wrong")
    assert not store.path.exists()

    client.login(token_registry.host, RIG_USER, RIG_PASSWORD)
    assert store.get(token_registry.host) == Credentials(RIG_USER, RIG_PASSWORD)
    token_server.reset()
    tokens = TokenCache()
    client = make_client(tokens)
    desc, _ = client.resolve(ref)
    assert desc.digest == busybox_image.manifest_digest
    client.resolve(ref)
    with client.fetch_blob(ref, busybox_image.layers[0].digest, verify=True) as blob:
        blob.read()
    # A second client in the same process reuses the cached token and challenge.
    make_client(tokens).resolve(ref)
    pulls = [r for r in token_server.requests if r.scopes == ["repository:busybox:pull"]]
    assert len(token_server.requests) == 1 and len(pulls) == 1
    assert pulls[0].account == RIG_USER and pulls[0].status == 200


def test_token_auth_push(
    make_client: Callable[..., RegistryClient],
    token_registry: AuthRegistry,
    store: CredentialStore,
    unique_name: Callable[..., str],
    registry: Registry,
) -> None:
    store.store(token_registry.host, RIG_USER, RIG_PASSWORD)
    repo = unique_name("tokpush")
    ref = parse_reference(f"{token_registry.host}/{repo}:1")
    layer, config, manifest = _image(repo)
    client = make_client()
    for blob in (layer, config):
        client.push_blob(ref, sha(blob), len(blob), Opener(blob), mount_from=["busybox"])
    assert client.put_manifest(ref, manifest, media.OCI_MANIFEST) == sha(manifest)
    assert client.resolve(ref)[1] == manifest
    assert registry.get_blob(repo, sha(layer)) == layer  # same storage as the plain registry


# --------------------------------------------------------------------------------------------
# basic auth
# --------------------------------------------------------------------------------------------
def test_basic_auth_login_and_pull(
    make_client: Callable[..., RegistryClient],
    htpasswd_registry: AuthRegistry,
    busybox_image: BuiltImage,
    store: CredentialStore,
) -> None:
    ref = parse_reference(f"{htpasswd_registry.host}/busybox")
    client = make_client()
    with pytest.raises(Unauthorized, match=f"run 'pynerd login {htpasswd_registry.host}'"):
        client.resolve(ref)
    with pytest.raises(Unauthorized) as exc:
        client.login(f"http://{htpasswd_registry.host}/", RIG_USER, "nope")
    assert str(exc.value) == (
        f"login attempt to http://{htpasswd_registry.host}/v2/ failed with status: 401 Unauthorized"
    )
    assert not store.path.exists()
    client.login(htpasswd_registry.host, RIG_USER, RIG_PASSWORD)
    assert json.loads(store.path.read_text())["auths"][htpasswd_registry.host]["auth"]
    assert client.resolve(ref)[0].digest == busybox_image.manifest_digest
    assert make_client().list_tags(ref) == ["latest"]


# --------------------------------------------------------------------------------------------
# TLS through hosts.toml
# --------------------------------------------------------------------------------------------
class TLSServer:
    """A tiny HTTPS 'registry' on 127.0.0.1 with a throwaway self-signed certificate."""

    def __init__(self, directory: Path) -> None:
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import NameOID

        key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
        now = datetime.datetime.now(datetime.UTC)
        cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(hours=1))
            .not_valid_after(now + datetime.timedelta(hours=1))
            .add_extension(
                x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                critical=False,
            )
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256())
        )
        self.cert = directory / "server.crt"
        self.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        keyfile = directory / "server.key"
        keyfile.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        body = json.dumps(
            {"schemaVersion": 2, "mediaType": media.OCI_INDEX, "manifests": []}
        ).encode()
        self.body = body

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                self.send_response(200)
                self.send_header("Content-Type", media.OCI_INDEX)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(self.cert, keyfile)
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.socket = ctx.wrap_socket(self.httpd.socket, server_side=True)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(5)


@pytest.fixture
def tls_server(tmp_path: Path) -> Iterator[TLSServer]:
    d = tmp_path / "tls"
    d.mkdir()
    server = TLSServer(d)
    yield server
    server.stop()


def test_tls_registry_with_hosts_toml_ca(
    make_client: Callable[..., RegistryClient], hosts_dir: Path, tls_server: TLSServer
) -> None:
    host = f"127.0.0.1:{tls_server.port}"
    ref = parse_reference(f"{host}/app:1")
    d = hosts_dir / host
    d.mkdir()
    toml = d / "hosts.toml"
    toml.write_text(f'server = "https://{host}"\n')
    with pytest.raises(Unavailable, match="tls: failed to verify certificate"):
        make_client().resolve(ref)
    toml.write_text(f'server = "https://{host}"\nca = "{tls_server.cert}"\n')
    assert make_client().resolve(ref)[1] == tls_server.body
    toml.write_text(f'server = "https://{host}"\nskip_verify = true\n')
    assert make_client().resolve(ref)[1] == tls_server.body
