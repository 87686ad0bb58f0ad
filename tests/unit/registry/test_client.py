"""RegistryClient against an in-memory registry behind MockTransport."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from pynerd.config import Config
from pynerd.errors import ConfigError, InvalidArgument, NotFound, Unavailable
from pynerd.registry import media
from pynerd.registry.auth import TokenCache
from pynerd.registry.client import BlobReader, RegistryClient, RetryPolicy
from pynerd.registry.credentials import Credentials, CredentialStore
from pynerd.registry.descriptor import Descriptor
from pynerd.registry.errors import (
    ConnectionDropped,
    DigestMismatch,
    RegistryNotFound,
    RegistryRejected,
    RegistryUnavailable,
    Unauthorized,
    UnsupportedMediaType,
)
from pynerd.registry.reference import parse_reference
from pynerd.registry.transport import MockTransport, Request, Response, TransportError

REG = "reg.test"
BASE = f"https://{REG}"
REALM = "https://auth.test/token"


def sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def err(code: str, message: str) -> bytes:
    return json.dumps({"errors": [{"code": code, "message": message}]}).encode()


MANIFEST = json.dumps({
    "schemaVersion": 2,
    "mediaType": media.DOCKER_MANIFEST,
    "config": {"mediaType": media.DOCKER_CONFIG, "size": 2, "digest": sha(b"{}")},
    "layers": [],
}).encode()
LAYER = bytes(range(256)) * 40  # 10 KiB


class FakeRegistry:
    """Just enough of the distribution API, with switches for auth and misbehaviour."""

    def __init__(self) -> None:
        self.manifests: dict[tuple[str, str], tuple[bytes, str]] = {}
        self.blobs: dict[str, dict[str, bytes]] = {}
        self.uploads: dict[str, bytearray] = {}
        self.log: list[Request] = []
        self.auth: str | None = None  # None, "bearer" or "basic"
        self.users = {"alice": "pw"}
        self.grant_anonymous = False
        self.valid_tokens: set[str] = set()
        self.token_requests: list[Request] = []
        self.hooks: list[Callable[[Request], Response | None]] = []
        self.ignore_range = False
        self.redirect_blobs: str | None = None  # e.g. "https://storage.test"
        self.page_size = 2
        self.mountable = True

    # -- content ------------------------------------------------------------------------------
    def add_manifest(self, repo: str, tag: str | None, body: bytes, mt: str) -> str:
        d = sha(body)
        self.manifests[(repo, d)] = (body, mt)
        if tag:
            self.manifests[(repo, tag)] = (body, mt)
        return d

    def add_blob(self, repo: str, data: bytes) -> str:
        self.blobs.setdefault(repo, {})[sha(data)] = data
        return sha(data)

    # -- dispatch -----------------------------------------------------------------------------
    def __call__(self, req: Request) -> Response:
        self.log.append(req)
        for hook in self.hooks:
            r = hook(req)
            if r is not None:
                return r
        parts = urlsplit(req.url)
        if parts.netloc == "auth.test":
            return self._token(req)
        if parts.netloc == "storage.test":
            digest = parse_qs(parts.query)["d"][0]
            for blobs in self.blobs.values():
                if digest in blobs:
                    return Response(200, {"Content-Length": str(len(blobs[digest]))},
                                    blobs[digest])
            return Response(404)
        denied = self._check_auth(req)
        if denied is not None:
            return denied
        path = parts.path
        if path == "/v2/":
            return Response(200, {}, b"{}")
        m = re.fullmatch(r"/v2/(.+?)/(manifests|blobs|tags)/(.*)", path)
        if not m:
            return Response(404, {}, err("NOT_FOUND", "no route"))
        repo, kind, rest = m.groups()
        query = parse_qs(parts.query)
        if kind == "manifests":
            return self._manifest(req, repo, rest)
        if kind == "tags":
            return self._tags(repo, query, path)
        if rest.startswith("uploads/"):
            return self._upload(req, repo, rest[len("uploads/"):], query)
        return self._blob(req, repo, rest)

    def _challenge(self, scope: str) -> Response:
        if self.auth == "basic":
            header = 'Basic realm="fake"'
        else:
            header = f'Bearer realm="{REALM}",service="{REG}",scope="{scope}"'
        return Response(401, {"WWW-Authenticate": header},
                        err("UNAUTHORIZED", "authentication required"))

    def _check_auth(self, req: Request) -> Response | None:
        if self.auth is None:
            return None
        m = re.match(r"/v2/(.+?)/(manifests|blobs|tags)/", urlsplit(req.url).path)
        actions = "pull" if req.method in ("GET", "HEAD") else "pull,push"
        scope = f"repository:{m.group(1)}:{actions}" if m else ""
        auth = req.headers.get("Authorization", "")
        if self.auth == "basic":
            if auth == "Basic " + base64.b64encode(b"alice:pw").decode():
                return None
            return self._challenge(scope)
        token = auth.removeprefix("Bearer ")
        if token in self.valid_tokens:
            return None
        return self._challenge(scope)

    def _token(self, req: Request) -> Response:
        self.token_requests.append(req)
        auth = req.headers.get("Authorization", "")
        user = None
        if auth.startswith("Basic "):
            u, _, p = base64.b64decode(auth[6:]).decode().partition(":")
            if self.users.get(u) != p:
                return Response(401, {}, err("UNAUTHORIZED", "incorrect username or password"))
            user = u
        token = f"token-{len(self.token_requests)}"
        if user is not None or self.grant_anonymous:
            self.valid_tokens.add(token)
        return Response(200, {}, json.dumps({"token": token, "expires_in": 300}).encode())

    def _manifest(self, req: Request, repo: str, ref: str) -> Response:
        if req.method == "PUT":
            body = req.body if isinstance(req.body, bytes) else b""
            d = self.add_manifest(repo, None if ref.startswith("sha256:") else ref, body,
                                  req.headers.get("Content-Type", ""))
            return Response(201, {"Docker-Content-Digest": d, "Location": f"/v2/{repo}/x"})
        if not any(r == repo for r, _ in self.manifests):
            return Response(404, {}, err("NAME_UNKNOWN", "repository name not known to registry"))
        hit = self.manifests.get((repo, ref))
        if hit is None:
            return Response(404, {}, err("MANIFEST_UNKNOWN", "manifest unknown"))
        body, mt = hit
        headers = {"Content-Type": mt, "Docker-Content-Digest": sha(body),
                   "Content-Length": str(len(body))}
        return Response(200, headers, b"" if req.method == "HEAD" else body)

    def _blob(self, req: Request, repo: str, digest: str) -> Response:
        data = self.blobs.get(repo, {}).get(digest)
        if data is None:
            return Response(404, {}, err("BLOB_UNKNOWN", "blob unknown to registry"))
        if self.redirect_blobs and req.method == "GET":
            return Response(307, {"Location": f"{self.redirect_blobs}/blob?d={digest}"})
        if req.method == "HEAD":
            return Response(200, {"Content-Length": str(len(data))})
        rng = req.headers.get("Range")
        if rng and not self.ignore_range:
            start = int(rng.removeprefix("bytes=").rstrip("-"))
            if start >= len(data):
                return Response(416, {"Content-Range": f"bytes */{len(data)}"})
            part = data[start:]
            return Response(206, {"Content-Range": f"bytes {start}-{len(data) - 1}/{len(data)}",
                                  "Content-Length": str(len(part))}, part)
        return Response(200, {"Content-Length": str(len(data))}, data)

    def _upload(self, req: Request, repo: str, uid: str, query: dict[str, list[str]]) -> Response:
        if req.method == "POST":
            if "mount" in query and self.mountable:
                digest, source = query["mount"][0], query["from"][0]
                if digest in self.blobs.get(source, {}):
                    self.blobs.setdefault(repo, {})[digest] = self.blobs[source][digest]
                    return Response(201, {"Docker-Content-Digest": digest})
            uid = f"u{len(self.uploads)}"
            self.uploads[uid] = bytearray()
            return Response(202, {"Location": f"/v2/{repo}/blobs/uploads/{uid}?_state=s"})
        if req.method == "DELETE":
            return Response(204) if self.uploads.pop(uid, None) is not None else Response(404)
        buf = self.uploads[uid]
        body = req.body if isinstance(req.body, bytes) else b""
        if req.method == "PATCH":
            rng = req.headers.get("Content-Range")
            if rng is not None and int(rng.split("-")[0]) != len(buf):
                return Response(416, {}, err("RANGE_INVALID", "invalid content range"))
            buf += body
            return Response(202, {"Location": f"/v2/{repo}/blobs/uploads/{uid}?_state=t",
                                  "Range": f"0-{len(buf) - 1}"})
        if req.method == "PUT":
            buf += body
            digest = query["digest"][0]
            if sha(bytes(buf)) != digest:
                return Response(400, {}, err("DIGEST_INVALID",
                                             "provided digest did not match uploaded content"))
            self.blobs.setdefault(repo, {})[digest] = bytes(buf)
            return Response(201, {"Docker-Content-Digest": digest})
        return Response(405)

    def _tags(self, repo: str, query: dict[str, list[str]], path: str) -> Response:
        tags = sorted(t for r, t in self.manifests if r == repo and not t.startswith("sha256:"))
        if not tags:
            return Response(404, {}, err("NAME_UNKNOWN", "repository name not known to registry"))
        last = query.get("last", [""])[0]
        rest = [t for t in tags if t > last]
        page, more = rest[: self.page_size], rest[self.page_size:]
        headers = {"Content-Type": "application/json"}
        if more:
            headers["Link"] = f'<{path}?n={self.page_size}&last={page[-1]}>; rel="next"'
        return Response(200, headers, json.dumps({"name": repo, "tags": page}).encode())

    def requests_to(self, netloc: str = REG) -> list[str]:
        return [f"{r.method} {urlsplit(r.url).path}" for r in self.log
                if urlsplit(r.url).netloc == netloc]


# --------------------------------------------------------------------------------------------
# fixtures
# --------------------------------------------------------------------------------------------
@pytest.fixture
def fake() -> FakeRegistry:
    reg = FakeRegistry()
    reg.add_manifest("busybox", "latest", MANIFEST, media.DOCKER_MANIFEST)
    reg.add_blob("busybox", LAYER)
    return reg


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def hosts_dir(tmp_path: Path) -> Path:
    d = tmp_path / "hosts"
    d.mkdir()
    return d


@pytest.fixture
def store(tmp_path: Path) -> CredentialStore:
    return CredentialStore(tmp_path / "docker")


@pytest.fixture
def make_client(
    fake: FakeRegistry, sleeps: list[float], hosts_dir: Path, store: CredentialStore
) -> Callable[..., RegistryClient]:
    def make(handler: Callable[[Request], Response] | None = None, **cfg: Any) -> RegistryClient:
        config = Config(hosts_dir=(str(hosts_dir),), **cfg)
        return RegistryClient(
            config, transport=MockTransport(handler or fake), credentials=store,
            tokens=TokenCache(), sleep=sleeps.append,
        )

    return make


@pytest.fixture
def client(make_client: Callable[..., RegistryClient]) -> RegistryClient:
    return make_client()


def ref(text: str) -> Any:
    return parse_reference(text)


def write_hosts(hosts_dir: Path, host: str, text: str) -> None:
    d = hosts_dir / host
    d.mkdir(parents=True, exist_ok=True)
    (d / "hosts.toml").write_text(text)


# --------------------------------------------------------------------------------------------
# resolve / fetch_manifest
# --------------------------------------------------------------------------------------------
def test_resolve_by_tag(client: RegistryClient, fake: FakeRegistry) -> None:
    desc, body = client.resolve(ref(f"{REG}/busybox:latest"))
    assert body == MANIFEST
    assert desc == Descriptor(media.DOCKER_MANIFEST, sha(MANIFEST), len(MANIFEST))
    req = fake.log[0]
    assert req.method == "GET" and req.url == f"{BASE}/v2/busybox/manifests/latest"
    accept = req.headers["Accept"]
    for mt in (media.OCI_INDEX, media.DOCKER_LIST, media.OCI_MANIFEST, media.DOCKER_MANIFEST):
        assert mt in accept
    assert req.tls is not None and req.tls.verify


def test_resolve_by_digest_and_tag_plus_digest(client: RegistryClient) -> None:
    d = sha(MANIFEST)
    assert client.resolve(ref(f"{REG}/busybox@{d}"))[0].digest == d
    assert client.resolve(ref(f"{REG}/busybox:latest@{d}"))[1] == MANIFEST


def test_fetch_manifest_verifies(client: RegistryClient, fake: FakeRegistry) -> None:
    d = sha(MANIFEST)
    assert client.fetch_manifest(ref(f"{REG}/busybox"), d) == MANIFEST
    other = fake.add_manifest("busybox", None, b'{"schemaVersion": 2}', media.OCI_MANIFEST)
    fake.manifests[("busybox", other)] = (MANIFEST, media.DOCKER_MANIFEST)  # wrong content
    with pytest.raises(DigestMismatch) as exc:
        client.fetch_manifest(ref(f"{REG}/busybox"), other)
    assert exc.value.expected == other and exc.value.actual == d


def test_digest_mismatch_against_the_reference(client: RegistryClient, fake: FakeRegistry) -> None:
    wanted = "sha256:" + "0" * 64
    fake.manifests[("busybox", wanted)] = (MANIFEST, media.DOCKER_MANIFEST)
    with pytest.raises(DigestMismatch) as exc:
        client.resolve(ref(f"{REG}/busybox@{wanted}"))
    assert isinstance(exc.value, InvalidArgument)
    assert str(exc.value) == (
        f"digest mismatch for {REG}/busybox@{wanted} from {REG}: expected {wanted}, "
        f"got {sha(MANIFEST)}"
    )


def test_digest_mismatch_against_the_header(make_client: Callable[..., RegistryClient]) -> None:
    def handler(req: Request) -> Response:
        return Response(200, {"Content-Type": media.DOCKER_MANIFEST,
                              "Docker-Content-Digest": "sha256:" + "1" * 64}, MANIFEST)

    with pytest.raises(DigestMismatch, match="the registry announced sha256:1111"):
        make_client(handler).resolve(ref(f"{REG}/busybox"))


@pytest.mark.parametrize(
    ("content_type", "body", "expected"),
    [
        (media.OCI_INDEX, b'{"schemaVersion":2,"manifests":[]}', media.OCI_INDEX),
        ("application/json", b'{"schemaVersion":2,"manifests":[]}', media.OCI_INDEX),
        ("", b'{"schemaVersion":2,"config":{},"layers":[]}', media.OCI_MANIFEST),
        ("application/json", json.dumps({"mediaType": media.DOCKER_LIST}).encode(),
         media.DOCKER_LIST),
        (f"{media.OCI_MANIFEST}; charset=utf-8", b"{}", media.OCI_MANIFEST),
    ],
)
def test_media_type_detection(
    make_client: Callable[..., RegistryClient], content_type: str, body: bytes, expected: str
) -> None:
    handler = MockTransport(lambda req: Response(200, {"Content-Type": content_type}, body))
    c = make_client(handler.send)
    assert c.resolve(ref(f"{REG}/x"))[0].media_type == expected


@pytest.mark.parametrize(
    ("content_type", "body", "named"),
    [
        (media.DOCKER_SCHEMA1_SIGNED, b'{"schemaVersion":1}', media.DOCKER_SCHEMA1_SIGNED),
        (media.DOCKER_SCHEMA1, b'{"schemaVersion":1}', media.DOCKER_SCHEMA1),
        ("application/json", b'{"schemaVersion":1,"name":"x"}', media.DOCKER_SCHEMA1_SIGNED),
    ],
)
def test_schema1_is_rejected_naming_the_type(
    make_client: Callable[..., RegistryClient], content_type: str, body: bytes, named: str
) -> None:
    c = make_client(lambda req: Response(200, {"Content-Type": content_type}, body))
    with pytest.raises(UnsupportedMediaType) as exc:
        c.resolve(ref(f"{REG}/old:1"))
    assert exc.value.media_type == named
    assert str(exc.value).startswith(f"unsupported manifest media type {named} for {REG}/old:1")
    assert "schema 1" in str(exc.value)


def test_unknown_media_type_is_rejected(make_client: Callable[..., RegistryClient]) -> None:
    mt = "application/vnd.cncf.helm.chart.content.v1.tar+gzip"
    c = make_client(lambda req: Response(200, {"Content-Type": mt}, b"{}"))
    with pytest.raises(UnsupportedMediaType, match=re.escape(f"media type {mt} for")):
        c.resolve(ref(f"{REG}/chart:1"))
    c = make_client(lambda req: Response(200, {"Content-Type": media.OCI_MANIFEST}, b"[1]"))
    with pytest.raises(RegistryRejected, match="not a JSON object"):
        c.resolve(ref(f"{REG}/chart:1"))


def test_oversized_manifest(make_client: Callable[..., RegistryClient]) -> None:
    c = make_client(lambda req: Response(200, {"Content-Type": media.OCI_MANIFEST}, b" " * 100))
    c.manifest_limit = 50
    with pytest.raises(RegistryRejected, match="larger than 50 bytes"):
        c.resolve(ref(f"{REG}/x"))


# --------------------------------------------------------------------------------------------
# error messages
# --------------------------------------------------------------------------------------------
def test_manifest_unknown_message_like_docker(
    make_client: Callable[..., RegistryClient], hosts_dir: Path
) -> None:
    write_hosts(hosts_dir, "docker.io", f'server = "{BASE}"\n')
    fake = FakeRegistry()
    fake.add_manifest("library/busybox", "latest", MANIFEST, media.DOCKER_MANIFEST)
    with pytest.raises(NotFound) as exc:
        make_client(fake).resolve(ref("busybox:nope"))
    assert str(exc.value) == (
        "manifest for busybox:nope not found: manifest unknown: manifest unknown"
    )
    assert isinstance(exc.value, RegistryNotFound)
    assert exc.value.status == 404 and exc.value.codes == ("MANIFEST_UNKNOWN",)


def test_repository_unknown_message(client: RegistryClient) -> None:
    with pytest.raises(NotFound) as exc:
        client.resolve(ref(f"{REG}/nothere:1"))
    assert str(exc.value) == (
        f"repository {REG}/nothere not found: name unknown: repository name not known to registry"
    )


def test_blob_unknown_message(client: RegistryClient) -> None:
    d = "sha256:" + "2" * 64
    with pytest.raises(NotFound) as exc:
        client.fetch_blob(ref(f"{REG}/busybox"), d)
    assert str(exc.value) == (
        f"blob {d} of {REG}/busybox not found: blob unknown: blob unknown to registry"
    )


def test_unauthorized_tells_to_log_in(client: RegistryClient, fake: FakeRegistry) -> None:
    fake.auth = "bearer"  # anonymous tokens grant nothing
    with pytest.raises(Unauthorized) as exc:
        client.resolve(ref(f"{REG}/busybox"))
    assert str(exc.value) == (
        f"pull access denied for {REG}/busybox, repository does not exist or may require "
        f"authentication: unauthorized: authentication required; run 'pynerd login {REG}'"
    )
    assert isinstance(exc.value, Unavailable)
    # one anonymous token, exactly one retry of the manifest request
    assert fake.requests_to() == ["GET /v2/busybox/manifests/latest"] * 2
    assert len(fake.token_requests) == 1


def test_docker_hub_login_hint(make_client: Callable[..., RegistryClient], hosts_dir: Path) -> None:
    write_hosts(hosts_dir, "docker.io", f'server = "{BASE}"\n')
    fake = FakeRegistry()
    fake.auth = "bearer"
    with pytest.raises(Unauthorized) as exc:
        make_client(fake).resolve(ref("private/app"))
    assert str(exc.value).startswith("pull access denied for private/app, ")
    assert str(exc.value).endswith("; run 'pynerd login'")


def test_wrong_credentials_at_the_token_server(
    client: RegistryClient, fake: FakeRegistry, store: CredentialStore
) -> None:
    fake.auth = "bearer"
    store.store(REG, "alice", "wrong")
    with pytest.raises(Unauthorized) as exc:
        client.resolve(ref(f"{REG}/busybox"))
    assert str(exc.value) == (
        f"pull access denied for {REG}/busybox, repository does not exist or may require "
        f"authentication: unauthorized: incorrect username or password; "
        f"run 'pynerd login {REG}'"
    )


def test_other_4xx_is_rejected_with_the_registry_words(
    make_client: Callable[..., RegistryClient]
) -> None:
    c = make_client(lambda req: Response(400, {}, err("MANIFEST_INVALID", "manifest invalid")))
    with pytest.raises(RegistryRejected) as exc:
        c.put_manifest(ref(f"{REG}/x:1"), MANIFEST, media.DOCKER_MANIFEST)
    assert str(exc.value) == f"manifest for {REG}/x:1: manifest invalid: manifest invalid"
    assert exc.value.codes == ("MANIFEST_INVALID",)


def test_unreachable_names_host_and_cause(
    make_client: Callable[..., RegistryClient], sleeps: list[float]
) -> None:
    def refuse(req: Request) -> Response:
        raise TransportError("refused", "connection refused")

    with pytest.raises(Unavailable) as exc:
        make_client(refuse).resolve(ref(f"{REG}/busybox"))
    assert str(exc.value) == (
        f"cannot reach {REG}: connection refused (GET {BASE}/v2/busybox/manifests/latest)"
    )
    assert isinstance(exc.value, RegistryUnavailable) and exc.value.transport_kind == "refused"
    assert sleeps == []  # refused is not worth retrying


# --------------------------------------------------------------------------------------------
# auth flows
# --------------------------------------------------------------------------------------------
def test_bearer_with_credentials_and_token_caching(
    client: RegistryClient, fake: FakeRegistry, store: CredentialStore
) -> None:
    fake.auth = "bearer"
    store.store(REG, "alice", "pw")
    r = ref(f"{REG}/busybox")
    client.resolve(r)
    client.resolve(r)
    with client.fetch_blob(r, sha(LAYER)) as blob:
        assert blob.read() == LAYER
    # one 401 at first, then the cached token up front: one token for the pull scope
    assert len(fake.token_requests) == 1
    token_req = fake.token_requests[0]
    assert token_req.headers["Authorization"] == "Basic " + base64.b64encode(b"alice:pw").decode()
    q = parse_qs(urlsplit(token_req.url).query)
    assert q["scope"] == ["repository:busybox:pull"] and q["service"] == [REG]
    manifest_gets = [r for r in fake.log if "/manifests/" in r.url]
    assert [r.headers.get("Authorization") for r in manifest_gets] == [
        None, "Bearer token-1", "Bearer token-1"
    ]


def test_tokens_are_shared_across_clients_through_the_cache(
    fake: FakeRegistry, store: CredentialStore, hosts_dir: Path
) -> None:
    fake.auth = "bearer"
    fake.grant_anonymous = True
    cache = TokenCache()
    cfg = Config(hosts_dir=(str(hosts_dir),))
    for _ in range(2):
        c = RegistryClient(cfg, transport=MockTransport(fake), credentials=store, tokens=cache)
        c.resolve(ref(f"{REG}/busybox"))
    assert len(fake.token_requests) == 1


def test_401_with_a_stale_token_retries_once_with_a_fresh_one(
    client: RegistryClient, fake: FakeRegistry
) -> None:
    fake.auth = "bearer"
    fake.grant_anonymous = True
    r = ref(f"{REG}/busybox")
    client.resolve(r)
    fake.valid_tokens.clear()  # the registry forgets (e.g. key rotation)
    client.resolve(r)
    assert len(fake.token_requests) == 2
    assert [x.headers.get("Authorization") for x in fake.log if "/manifests/" in x.url] == [
        None, "Bearer token-1", "Bearer token-1", "Bearer token-2"
    ]


def test_basic_auth(client: RegistryClient, fake: FakeRegistry, store: CredentialStore) -> None:
    fake.auth = "basic"
    store.store(REG, "alice", "pw")
    client.resolve(ref(f"{REG}/busybox"))
    client.resolve(ref(f"{REG}/busybox"))
    headers = [x.headers.get("Authorization") for x in fake.log]
    basic = "Basic " + base64.b64encode(b"alice:pw").decode()
    assert headers == [None, basic, basic]  # the 401 once, then up front
    assert fake.token_requests == []


def test_basic_auth_without_credentials(client: RegistryClient, fake: FakeRegistry) -> None:
    fake.auth = "basic"
    with pytest.raises(Unauthorized, match=f"run 'pynerd login {REG}'"):
        client.resolve(ref(f"{REG}/busybox"))
    assert len(fake.log) == 1  # nothing to retry with


def test_push_scope_includes_mount_sources(
    client: RegistryClient, fake: FakeRegistry, store: CredentialStore
) -> None:
    fake.auth = "bearer"
    store.store(REG, "alice", "pw")
    client.push_blob(ref(f"{REG}/new"), sha(LAYER), len(LAYER), lambda: io.BytesIO(LAYER),
                     mount_from=["busybox"])
    scopes = parse_qs(urlsplit(fake.token_requests[0].url).query)["scope"]
    assert scopes == ["repository:new:pull,push", "repository:busybox:pull"]


# --------------------------------------------------------------------------------------------
# retries
# --------------------------------------------------------------------------------------------
def flaky(fake: FakeRegistry, statuses: list[int], headers: dict[str, str] | None = None) -> None:
    todo = list(statuses)

    def hook(req: Request) -> Response | None:
        if todo:
            return Response(todo.pop(0), headers or {}, b"")
        return None

    fake.hooks.append(hook)


def test_503_is_retried_with_exponential_backoff(
    client: RegistryClient, fake: FakeRegistry, sleeps: list[float]
) -> None:
    flaky(fake, [503, 502, 500])
    client.resolve(ref(f"{REG}/busybox"))
    assert sleeps == [0.2, 0.4, 0.8]


def test_429_honours_retry_after_with_a_cap(
    client: RegistryClient, fake: FakeRegistry, sleeps: list[float]
) -> None:
    flaky(fake, [429], {"Retry-After": "3"})
    client.resolve(ref(f"{REG}/busybox"))
    flaky(fake, [429], {"Retry-After": "3600"})
    client.resolve(ref(f"{REG}/busybox"))
    flaky(fake, [429], {"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"})  # in the past
    client.resolve(ref(f"{REG}/busybox"))
    assert sleeps == [3.0, 10.0, 0.0]


def test_retries_are_bounded(
    client: RegistryClient, fake: FakeRegistry, sleeps: list[float]
) -> None:
    flaky(fake, [503] * 10)
    with pytest.raises(RegistryUnavailable) as exc:
        client.resolve(ref(f"{REG}/busybox"))
    assert len(sleeps) == 3 and len(fake.log) == 4
    assert exc.value.status == 503
    assert str(exc.value) == (
        f"registry {REG} failed: 503 Service Unavailable ({BASE}/v2/busybox/manifests/latest)"
    )


def test_dropped_connections_and_timeouts_are_retried(
    client: RegistryClient, fake: FakeRegistry, sleeps: list[float]
) -> None:
    failures = [TransportError("dropped", "connection reset by peer"),
                TransportError("timeout", "timed out waiting for the server")]

    def hook(req: Request) -> Response | None:
        if failures:
            raise failures.pop(0)
        return None

    fake.hooks.append(hook)
    assert client.resolve(ref(f"{REG}/busybox"))[1] == MANIFEST
    assert sleeps == [0.2, 0.4]


def test_retry_policy_delays() -> None:
    p = RetryPolicy(attempts=6, base_delay=0.5, max_delay=3.0, retry_after_cap=5)
    assert [p.delay(i) for i in range(5)] == [0.5, 1.0, 2.0, 3.0, 3.0]
    assert p.delay(0, "7") == 5 and p.delay(0, "garbage") == 0.5


# --------------------------------------------------------------------------------------------
# blobs: redirects, ranges, streaming
# --------------------------------------------------------------------------------------------
def test_redirect_to_storage_drops_authorization(
    client: RegistryClient, fake: FakeRegistry, store: CredentialStore
) -> None:
    fake.auth = "basic"
    store.store(REG, "alice", "pw")
    fake.redirect_blobs = "https://storage.test"
    with client.fetch_blob(ref(f"{REG}/busybox"), sha(LAYER)) as blob:
        assert blob.read() == LAYER
        assert blob.url.startswith("https://storage.test/blob?d=")
    registry_get = [r for r in fake.log if urlsplit(r.url).netloc == REG][-1]
    storage_get = next(r for r in fake.log if urlsplit(r.url).netloc == "storage.test")
    assert registry_get.headers.get("Authorization", "").startswith("Basic ")
    assert "Authorization" not in storage_get.headers
    assert storage_get.tls is None  # the registry's TLS settings stay with the registry


def test_same_origin_redirect_keeps_authorization(
    client: RegistryClient, fake: FakeRegistry, store: CredentialStore
) -> None:
    fake.auth = "basic"
    store.store(REG, "alice", "pw")
    fake.redirect_blobs = f"{BASE}/v2/busybox/blobs"  # nonsense path on the same host

    def hook(req: Request) -> Response | None:
        if urlsplit(req.url).path == "/v2/busybox/blobs/blob":
            assert req.headers.get("Authorization")
            return Response(200, {"Content-Length": "3"}, b"abc")
        return None

    fake.hooks.append(hook)
    with client.fetch_blob(ref(f"{REG}/busybox"), sha(LAYER)) as blob:
        assert blob.read() == b"abc"


def test_too_many_redirects(make_client: Callable[..., RegistryClient]) -> None:
    c = make_client(lambda req: Response(302, {"Location": req.url}))
    with pytest.raises(RegistryUnavailable, match="too many redirects"):
        c.fetch_blob(ref(f"{REG}/x"), sha(b""))


def test_range_resume_206(client: RegistryClient, fake: FakeRegistry) -> None:
    with client.fetch_blob(ref(f"{REG}/busybox"), sha(LAYER), offset=1000) as blob:
        assert (blob.offset, blob.size) == (1000, len(LAYER))
        assert b"".join(blob.iter_chunks(4096)) == LAYER[1000:]
        assert blob.bytes_read == len(LAYER)
    assert fake.log[-1].headers["Range"] == "bytes=1000-"
    assert fake.log[-1].decode_content is False


def test_range_ignored_200_starts_at_zero(client: RegistryClient, fake: FakeRegistry) -> None:
    fake.ignore_range = True
    with client.fetch_blob(ref(f"{REG}/busybox"), sha(LAYER), offset=1000) as blob:
        assert (blob.offset, blob.size) == (0, len(LAYER))
        assert blob.read() == LAYER


def test_range_at_the_end(client: RegistryClient) -> None:
    with client.fetch_blob(ref(f"{REG}/busybox"), sha(LAYER), offset=len(LAYER)) as blob:
        assert (blob.offset, blob.size) == (len(LAYER), len(LAYER))
        assert blob.read() == b""
    with pytest.raises(RegistryRejected, match="range not satisfiable"):
        client.fetch_blob(ref(f"{REG}/busybox"), sha(LAYER), offset=len(LAYER) + 5)


def test_blob_read_in_pieces_and_verify(client: RegistryClient, fake: FakeRegistry) -> None:
    with client.fetch_blob(ref(f"{REG}/busybox"), sha(LAYER), verify=True) as blob:
        parts = [blob.read(3000), blob.read(3000)]
        parts += list(blob.iter_chunks())
        assert b"".join(parts) == LAYER
    d = sha(b"other")
    fake.blobs["busybox"][d] = LAYER  # the registry serves the wrong bytes
    with client.fetch_blob(ref(f"{REG}/busybox"), d, verify=True) as blob, \
            pytest.raises(DigestMismatch):
        blob.read()


def test_truncated_blob_is_a_dropped_connection(
    make_client: Callable[..., RegistryClient]
) -> None:
    c = make_client(lambda req: Response(200, {"Content-Length": "100"}, b"x" * 60))
    blob = c.fetch_blob(ref(f"{REG}/x"), sha(b"x" * 100))
    with pytest.raises(ConnectionDropped) as exc:
        blob.read()
    assert "connection closed after 60 of 100 bytes" in str(exc.value)
    assert blob.bytes_read == 60


def test_body_error_mid_stream(make_client: Callable[..., RegistryClient]) -> None:
    def body(n: int) -> Any:
        yield b"a" * 10
        raise TransportError("dropped", "connection reset by peer")

    c = make_client(lambda req: Response(200, {"Content-Length": "100"}, body))
    blob = c.fetch_blob(ref(f"{REG}/x"), sha(b"a" * 100))
    assert isinstance(blob, BlobReader)
    with pytest.raises(ConnectionDropped) as exc:
        list(blob.iter_chunks())
    assert str(exc.value) == (
        f"error reading blob {sha(b'a' * 100)} from {REG} after 10 bytes: "
        "connection reset by peer"
    )
    assert isinstance(exc.value, Unavailable)


def test_blob_exists(client: RegistryClient) -> None:
    assert client.blob_exists(ref(f"{REG}/busybox"), sha(LAYER)) == len(LAYER)
    assert client.blob_exists(ref(f"{REG}/busybox"), sha(b"nope")) is None


# --------------------------------------------------------------------------------------------
# mirrors
# --------------------------------------------------------------------------------------------
def test_mirror_fallback_order(
    make_client: Callable[..., RegistryClient], hosts_dir: Path
) -> None:
    write_hosts(hosts_dir, "docker.io", f"""
server = "{BASE}"
[host."http://127.0.0.1:5001"]
  capabilities = ["pull", "resolve"]
[host."https://mirror.test"]
  capabilities = ["pull", "resolve"]
[host."https://blobs-only.test"]
  capabilities = ["pull"]
""")
    fake = FakeRegistry()
    fake.add_manifest("library/busybox", "latest", MANIFEST, media.DOCKER_MANIFEST)
    seen: list[str] = []

    def handler(req: Request) -> Response:
        netloc = urlsplit(req.url).netloc
        seen.append(netloc)
        if netloc == "127.0.0.1:5001":
            raise TransportError("refused", "connection refused")
        if netloc == "mirror.test":
            return Response(404, {}, err("MANIFEST_UNKNOWN", "manifest unknown"))
        return fake(req)

    c = make_client(handler)
    assert c.resolve(ref("busybox"))[1] == MANIFEST
    assert seen == ["127.0.0.1:5001", "mirror.test", REG]


def test_mirror_serves_and_upstream_is_not_contacted(
    make_client: Callable[..., RegistryClient], hosts_dir: Path
) -> None:
    write_hosts(hosts_dir, "docker.io", """
server = "https://upstream.test"
[host."https://mirror.test"]
  capabilities = ["pull", "resolve"]
""")
    fake = FakeRegistry()
    fake.add_manifest("library/busybox", "latest", MANIFEST, media.DOCKER_MANIFEST)
    fake.add_blob("library/busybox", LAYER)

    def handler(req: Request) -> Response:
        assert urlsplit(req.url).netloc == "mirror.test"
        return fake(req)

    c = make_client(handler)
    c.resolve(ref("busybox"))
    with c.fetch_blob(ref("busybox"), sha(LAYER)) as blob:
        assert blob.read() == LAYER


def test_mirror_credentials_are_the_mirrors(
    make_client: Callable[..., RegistryClient], hosts_dir: Path, store: CredentialStore
) -> None:
    write_hosts(hosts_dir, "docker.io", '[host."https://mirror.test"]\n')
    store.store("mirror.test", "m", "p")
    store.store("docker.io", "hub", "h")
    auths: list[str | None] = []

    def handler(req: Request) -> Response:
        auths.append(req.headers.get("Authorization"))
        if req.headers.get("Authorization"):
            return Response(200, {"Content-Type": media.DOCKER_MANIFEST}, MANIFEST)
        return Response(401, {"WWW-Authenticate": 'Basic realm="m"'})

    make_client(handler).resolve(ref("busybox"))
    assert auths == [None, "Basic " + base64.b64encode(b"m:p").decode()]


def test_all_endpoints_fail_reports_the_last(
    make_client: Callable[..., RegistryClient], hosts_dir: Path
) -> None:
    write_hosts(hosts_dir, "docker.io", f"""
server = "{BASE}"
[host."https://mirror.test"]
""")
    c = make_client(lambda req: Response(404, {}, err("MANIFEST_UNKNOWN", "manifest unknown")))
    with pytest.raises(NotFound, match="manifest for busybox:latest not found"):
        c.resolve(ref("busybox"))


def test_no_endpoint_with_the_capability(
    make_client: Callable[..., RegistryClient], hosts_dir: Path
) -> None:
    write_hosts(hosts_dir, REG, 'capabilities = ["pull"]\n')
    with pytest.raises(ConfigError, match="resolve capability"):
        make_client().resolve(ref(f"{REG}/busybox"))
    with pytest.raises(ConfigError, match="push capability"):
        make_client().put_manifest(ref(f"{REG}/busybox:1"), MANIFEST, media.DOCKER_MANIFEST)


def test_insecure_registry_falls_back_to_http(
    make_client: Callable[..., RegistryClient], fake: FakeRegistry
) -> None:
    seen: list[str] = []

    def handler(req: Request) -> Response:
        seen.append(req.url)
        if req.url.startswith("https://"):
            assert req.tls is not None and req.tls.verify is False
            raise TransportError("tls", "tls: wrong version number")
        return fake(req)

    c = make_client(handler, insecure_registries=(REG,))
    c.resolve(ref(f"{REG}/busybox"))
    c.resolve(ref(f"{REG}/busybox"))
    assert seen == [
        f"{BASE}/v2/busybox/manifests/latest",
        f"http://{REG}/v2/busybox/manifests/latest",
        f"http://{REG}/v2/busybox/manifests/latest",
    ]


# --------------------------------------------------------------------------------------------
# push
# --------------------------------------------------------------------------------------------
class Opener:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.opened = 0

    def __call__(self) -> io.BytesIO:
        self.opened += 1
        return io.BytesIO(self.data)


def test_push_blob_skips_existing(client: RegistryClient, fake: FakeRegistry) -> None:
    opener = Opener(LAYER)
    client.push_blob(ref(f"{REG}/busybox:latest"), sha(LAYER), len(LAYER), opener)
    assert fake.requests_to() == [f"HEAD /v2/busybox/blobs/{sha(LAYER)}"]
    assert opener.opened == 0


def test_push_blob_cross_repo_mount(client: RegistryClient, fake: FakeRegistry) -> None:
    opener = Opener(LAYER)
    client.push_blob(ref(f"{REG}/new"), sha(LAYER), len(LAYER), opener,
                     mount_from=["other.test/ignored", "missing", f"{REG}/busybox"])
    assert fake.blobs["new"][sha(LAYER)] == LAYER
    assert opener.opened == 0
    assert fake.requests_to() == [
        f"HEAD /v2/new/blobs/{sha(LAYER)}",
        "POST /v2/new/blobs/uploads/",  # from "missing": 202, a plain upload session...
        "DELETE /v2/new/blobs/uploads/u0",  # ...which is cancelled
        "POST /v2/new/blobs/uploads/",  # from "busybox": 201, mounted
    ]
    posts = [r for r in fake.log if r.method == "POST"]
    assert [parse_qs(urlsplit(p.url).query)["from"] for p in posts] == [["missing"], ["busybox"]]


def test_push_blob_monolithic_and_mount_fallback(
    client: RegistryClient, fake: FakeRegistry
) -> None:
    data = b"new layer bytes"
    opener = Opener(data)
    client.push_blob(ref(f"{REG}/app"), sha(data), len(data), opener, mount_from=["busybox"])
    assert fake.blobs["app"][sha(data)] == data
    assert fake.requests_to() == [
        f"HEAD /v2/app/blobs/{sha(data)}",
        "POST /v2/app/blobs/uploads/",  # the mount attempt; 202 starts a normal upload
        "PUT /v2/app/blobs/uploads/u0",
    ]
    put = fake.log[-1]
    q = parse_qs(urlsplit(put.url).query)
    assert q == {"_state": ["s"], "digest": [sha(data)]}
    assert put.headers["Content-Type"] == "application/octet-stream"
    assert put.headers["Content-Length"] == str(len(data))
    assert opener.opened == 1


def test_push_blob_chunked(client: RegistryClient, fake: FakeRegistry) -> None:
    client.monolithic_limit = 4000
    client.chunk_size = 4096
    opener = Opener(LAYER)
    client.push_blob(ref(f"{REG}/big"), sha(LAYER), len(LAYER), opener)
    assert fake.blobs["big"][sha(LAYER)] == LAYER
    patches = [r for r in fake.log if r.method == "PATCH"]
    assert [p.headers["Content-Range"] for p in patches] == ["0-4095", "4096-8191", "8192-10239"]
    assert urlsplit(patches[1].url).query == "_state=t"  # each Location is followed
    assert fake.log[-1].method == "PUT" and fake.log[-1].body == b""


def test_push_blob_retry_reopens_the_data(
    client: RegistryClient, fake: FakeRegistry, sleeps: list[float]
) -> None:
    failed: list[bool] = []

    def hook(req: Request) -> Response | None:
        if req.method == "PUT" and not failed:
            failed.append(True)
            return Response(503)
        return None

    fake.hooks.append(hook)
    data = b"retry me"
    opener = Opener(data)
    client.push_blob(ref(f"{REG}/app"), sha(data), len(data), opener)
    assert opener.opened == 2 and sleeps == [0.2]
    assert fake.blobs["app"][sha(data)] == data


def test_push_blob_wrong_data_is_rejected(client: RegistryClient) -> None:
    with pytest.raises(RegistryRejected, match="digest invalid"):
        client.push_blob(ref(f"{REG}/app"), sha(b"a"), 1, Opener(b"b"))


def test_push_blob_stored_digest_mismatch(make_client: Callable[..., RegistryClient]) -> None:
    def handler(req: Request) -> Response:
        if req.method == "HEAD":
            return Response(404)
        if req.method == "POST":
            return Response(202, {"Location": "/v2/app/blobs/uploads/1"})
        return Response(201, {"Docker-Content-Digest": "sha256:" + "9" * 64})

    with pytest.raises(DigestMismatch, match="stored blob"):
        make_client(handler).push_blob(ref(f"{REG}/app"), sha(b"a"), 1, Opener(b"a"))


def test_put_manifest(client: RegistryClient, fake: FakeRegistry) -> None:
    digest = client.put_manifest(ref(f"{REG}/app:v1"), MANIFEST, media.DOCKER_MANIFEST)
    assert digest == sha(MANIFEST)
    put = fake.log[-1]
    assert put.url == f"{BASE}/v2/app/manifests/v1"
    assert put.headers["Content-Type"] == media.DOCKER_MANIFEST and put.body == MANIFEST
    assert client.resolve(ref(f"{REG}/app:v1"))[0].digest == digest
    by_digest = client.put_manifest(ref(f"{REG}/app@{digest}"), MANIFEST, media.DOCKER_MANIFEST)
    assert by_digest == digest
    assert fake.log[-1].url == f"{BASE}/v2/app/manifests/{digest}"


def test_put_manifest_digest_mismatch(client: RegistryClient, fake: FakeRegistry) -> None:
    wrong = "sha256:" + "3" * 64
    with pytest.raises(DigestMismatch):
        client.put_manifest(ref(f"{REG}/app@{wrong}"), MANIFEST, media.DOCKER_MANIFEST)
    assert fake.log == []


def test_push_unauthorized_message(client: RegistryClient, fake: FakeRegistry) -> None:
    fake.auth = "bearer"
    with pytest.raises(Unauthorized) as exc:
        client.put_manifest(ref(f"{REG}/app:v1"), MANIFEST, media.DOCKER_MANIFEST)
    assert str(exc.value) == (
        f"push access denied for {REG}/app: unauthorized: authentication required; "
        f"run 'pynerd login {REG}'"
    )


# --------------------------------------------------------------------------------------------
# tags and login
# --------------------------------------------------------------------------------------------
def test_list_tags_follows_pagination(client: RegistryClient, fake: FakeRegistry) -> None:
    for tag in ("a", "b", "c", "d", "e"):
        fake.add_manifest("many", tag, MANIFEST, media.DOCKER_MANIFEST)
    assert client.list_tags(ref(f"{REG}/many")) == ["a", "b", "c", "d", "e"]
    assert len([r for r in fake.log if "/tags/list" in r.url]) == 3
    with pytest.raises(NotFound, match=f"repository {REG}/none not found"):
        client.list_tags(ref(f"{REG}/none"))


@pytest.mark.parametrize("scheme", ["basic", "bearer", None])
def test_login_saves_only_good_credentials(
    client: RegistryClient, fake: FakeRegistry, store: CredentialStore, scheme: str | None
) -> None:
    fake.auth = scheme
    if scheme is not None:
        with pytest.raises(Unauthorized) as exc:
            client.login(REG, "alice", "wrong")
        assert str(exc.value) == (
            f"login attempt to {BASE}/v2/ failed with status: 401 Unauthorized"
        )
        assert not store.path.exists()
    client.login(f"https://{REG}/", "alice", "pw")
    assert store.get(REG) == Credentials("alice", "pw")
    if scheme == "bearer":
        q = parse_qs(urlsplit(fake.token_requests[-1].url).query)
        assert q["account"] == ["alice"] and q["offline_token"] == ["true"]


def test_login_then_pull_uses_the_new_login(
    client: RegistryClient, fake: FakeRegistry, store: CredentialStore
) -> None:
    fake.auth = "basic"
    with pytest.raises(Unauthorized):
        client.resolve(ref(f"{REG}/busybox"))
    client.login(REG, "alice", "pw")
    assert client.resolve(ref(f"{REG}/busybox"))[1] == MANIFEST


def test_descriptor_round_trip() -> None:
    obj = {"mediaType": media.OCI_MANIFEST, "digest": sha(b"x"), "size": 1,
           "platform": {"os": "linux", "architecture": "amd64"},
           "annotations": {"a": "b"}, "urls": ["https://x"]}
    d = Descriptor.from_oci(obj)
    assert d.to_oci() == obj
    assert Descriptor(media.OCI_MANIFEST, sha(b"x"), 1).to_oci() == {
        "mediaType": media.OCI_MANIFEST, "digest": sha(b"x"), "size": 1
    }
    for bad in ({}, {"mediaType": "x", "digest": "nope", "size": 1},
                {"mediaType": "x", "digest": sha(b"x"), "size": -1},
                {"mediaType": "x", "digest": sha(b"x"), "size": True},
                {"mediaType": "x", "digest": sha(b"x"), "size": 1, "urls": "u"},
                {"mediaType": "x", "digest": sha(b"x"), "size": 1, "annotations": {"a": 1}},
                []):
        with pytest.raises(InvalidArgument):
            Descriptor.from_oci(bad)


# --------------------------------------------------------------------------------------------
# the transport seam
# --------------------------------------------------------------------------------------------
def test_headers_are_case_insensitive() -> None:
    from pynerd.registry.transport import Headers

    h = Headers({"Content-Type": "a", "docker-content-digest": "b"})
    assert h["content-type"] == "a" and h["Docker-Content-Digest"] == "b"
    assert "CONTENT-TYPE" in h and "x" not in h and len(h) == 2
    assert list(h) == ["Content-Type", "docker-content-digest"]


def test_response_bodies() -> None:
    closed: list[bool] = []
    r = Response(200, {}, [b"ab", b"cd"], on_close=lambda: closed.append(True))
    assert r.read() == b"abcd" and closed == [True]
    with pytest.raises(RuntimeError):
        r.read()
    r = Response(200, {}, lambda n: iter([b"x" * n, b"y"]))
    assert list(r.iter_content(3)) == [b"xxx", b"y"]
    with pytest.raises(ValueError):
        Response(200, {}, b"x" * 10).read(limit=5)
    assert Response(404).reason == "Not Found"


def test_mock_transport_materializes_bodies() -> None:
    seen: list[Request] = []
    t = MockTransport(lambda req: seen.append(req) or Response(201))
    t.send(Request("PUT", "http://x/", body=io.BytesIO(b"file")))
    t.send(Request("PUT", "http://x/", body=iter([b"a", b"b"])))
    assert [r.body for r in seen] == [b"file", b"ab"] and t.requests == seen
    assert t.send(Request("GET", "http://x/y")).url == "http://x/y"


@pytest.mark.parametrize(
    ("host", "port", "no_proxy", "bypass"),
    [
        ("registry.lan", 443, "*", True),
        ("registry.lan", 443, "other,registry.lan", True),
        ("a.registry.lan", 443, ".registry.lan", True),
        ("a.registry.lan", 443, "*.registry.lan", True),
        ("registry.lan", 5000, "registry.lan:5000", True),
        ("registry.lan", 443, "registry.lan:5000", False),
        ("10.1.2.3", 80, "10.0.0.0/8", True),
        ("notregistry.lan", 443, "registry.lan", False),
        ("registry.lan", 443, "", False),
    ],
)
def test_no_proxy_matching(host: str, port: int, no_proxy: str, bypass: bool) -> None:
    from pynerd.registry.transport import _bypass

    assert _bypass(host, port, no_proxy) is bypass


def test_proxies_only_from_set_variables() -> None:
    pytest.importorskip("requests")
    from pynerd.registry.transport import RequestsTransport

    t = RequestsTransport(environ={})
    assert t._proxies("https://r.lan/v2/") is None
    t.close()
    env = {"HTTPS_PROXY": "http://proxy:3128", "NO_PROXY": "internal.lan"}
    t = RequestsTransport(environ=env)
    assert t._proxies("https://r.lan/v2/") == {"https": "http://proxy:3128"}
    assert t._proxies("https://x.internal.lan/v2/") == {}
    assert t._proxies("http://127.0.0.1:5000/v2/") == {}
    assert t._proxies("http://localhost:5000/v2/") == {}
    assert t._proxies("http://r.lan/v2/") == {}  # no HTTP_PROXY set
    t.close()


def test_classify_network_failures() -> None:
    import socket
    import ssl

    from pynerd.registry.transport import classify

    def wrapped(inner: BaseException) -> BaseException:
        outer = OSError("Max retries exceeded")
        outer.__cause__ = inner
        return outer

    cert = ssl.SSLCertVerificationError(1, "certificate verify failed")
    cert.verify_message = "self-signed certificate"
    cases = [
        (wrapped(cert), "tls", "tls: failed to verify certificate: self-signed certificate"),
        (wrapped(socket.gaierror(-2, "Name or service not known")), "dns",
         "no such host (DNS lookup failed)"),
        (wrapped(ConnectionRefusedError(111, "Connection refused")), "refused",
         "connection refused"),
        (wrapped(ConnectionResetError(104, "reset")), "dropped", "connection reset by peer"),
        (wrapped(TimeoutError("timed out")), "timeout", "timed out waiting for the server"),
    ]
    for exc, kind, message in cases:
        got = classify(exc)
        assert (got.kind, got.message) == (kind, message)
