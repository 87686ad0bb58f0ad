"""A throwaway Distribution v2 registry (Debian's ``docker-registry``) plus a tiny push client.

Tests pull from a real registry rather than a mock so that pynerd's HTTP, auth-less token
handling, content negotiation and digest checks meet the same server behaviour users see.
Everything listens on 127.0.0.1 only and lives in a private temp dir removed on ``stop()``.
"""

from __future__ import annotations

import atexit
import hashlib
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from urllib.parse import urljoin

import requests

REGISTRY_BIN = "/usr/bin/docker-registry"

MT_DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
MT_DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
MT_OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
MT_OCI_INDEX = "application/vnd.oci.image.index.v1+json"
MANIFEST_ACCEPT = ", ".join([MT_OCI_INDEX, MT_DOCKER_LIST, MT_OCI_MANIFEST, MT_DOCKER_MANIFEST])

_CONFIG_TEMPLATE = """\
version: 0.1
log:
  level: warn
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: {root}
  delete:
    enabled: true
  maintenance:
    uploadpurging:
      enabled: false
  redirect:
    disable: true
http:
  addr: 127.0.0.1:{port}
health:
  storagedriver:
    enabled: false
"""


class RegistryError(RuntimeError):
    """The registry did not start, or answered a push/pull unexpectedly."""


def sha256_digest(data: bytes) -> str:
    """OCI digest string of ``data``."""
    return "sha256:" + hashlib.sha256(data).hexdigest()


def free_port() -> int:
    """A currently free TCP port on 127.0.0.1 (racy by nature; ``start`` retries)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass(frozen=True)
class Manifest:
    """A fetched manifest: raw bytes (digest-exact), its media type and digest."""

    body: bytes
    media_type: str
    digest: str


class Registry:
    """One ``docker-registry serve`` subprocess on a free 127.0.0.1 port.

    Use as a context manager or call ``start()``/``stop()``. ``host`` is what goes in an
    image reference (``127.0.0.1:PORT/repo:tag``); pynerd must treat it as insecure (http).
    """

    def __init__(self, binary: str = REGISTRY_BIN, start_timeout: float = 15.0) -> None:
        self.binary = binary
        self.start_timeout = start_timeout
        self.port = 0
        self.workdir: Path | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._log: Path | None = None
        self.session = requests.Session()
        # Never route 127.0.0.1 through an http(s)_proxy from the environment.
        self.session.trust_env = False

    # -- lifecycle -------------------------------------------------------------------------
    @property
    def host(self) -> str:
        """``127.0.0.1:PORT``, the registry part of image references."""
        return f"127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        """Base URL, e.g. ``http://127.0.0.1:PORT``."""
        return f"http://{self.host}"

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    # Hooks for variants (tests/rig/auth.py): name, storage, extra config, readiness.
    def _workdir_prefix(self) -> str:
        return "rig-registry-"

    def _storage_root(self) -> Path:
        assert self.workdir is not None
        return self.workdir / "storage"

    def _config_extra(self) -> str:
        return ""

    def _is_ready(self, response: requests.Response) -> bool:
        return response.status_code == 200

    def _describe(self) -> str:
        return "docker-registry"

    def start(self) -> Registry:
        """Start the registry and wait until ``GET /v2/`` answers as :meth:`_is_ready` wants."""
        if self.running:
            return self
        self.workdir = Path(tempfile.mkdtemp(prefix=self._workdir_prefix()))
        atexit.register(self.stop)
        root = self._storage_root()
        root.mkdir(parents=True, exist_ok=True)
        self._log = self.workdir / "registry.log"
        extra = self._config_extra()
        last_error = ""
        # A port picked by free_port() can be taken before the registry binds it: retry.
        for _attempt in range(3):
            self.port = free_port()
            config = self.workdir / "config.yml"
            config.write_text(_CONFIG_TEMPLATE.format(root=root, port=self.port) + extra)
            with open(self._log, "wb") as log:
                self._proc = subprocess.Popen(
                    [self.binary, "serve", str(config)],
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,  # a ^C to pytest must not kill it mid-teardown
                )
            if self._wait_ready():
                return self
            last_error = self._log.read_text(errors="replace")[-4000:]
            self._kill()
            if "address already in use" not in last_error:
                break
        self.stop()
        raise RegistryError(
            f"{self._describe()} did not answer GET /v2/ within {self.start_timeout:.0f}s; "
            f"its output:\n{last_error or '(empty)'}"
        )

    def _wait_ready(self) -> bool:
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            assert self._proc is not None
            if self._proc.poll() is not None:
                return False
            try:
                if self._is_ready(self.session.get(f"{self.url}/v2/", timeout=1)):
                    return True
            except requests.ConnectionError:
                pass
            time.sleep(0.02)
        return False

    def _kill(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)

    def stop(self) -> None:
        """Stop the process (TERM, then KILL) and remove its storage. Idempotent."""
        self._kill()
        self.session.close()
        if self.workdir is not None:
            shutil.rmtree(self.workdir, ignore_errors=True)
            self.workdir = None
        atexit.unregister(self.stop)

    def __enter__(self) -> Registry:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- push/pull client ------------------------------------------------------------------
    def _check(self, r: requests.Response, *ok: int) -> requests.Response:
        if r.status_code not in ok:
            raise RegistryError(f"{r.request.method} {r.url} -> {r.status_code}: {r.text[:500]}")
        return r

    def has_blob(self, repo: str, digest: str) -> bool:
        r = self.session.head(f"{self.url}/v2/{repo}/blobs/{digest}", timeout=30)
        return r.status_code == 200

    def push_blob(self, repo: str, data: bytes) -> str:
        """Monolithic upload (POST then PUT ?digest=); skipped when the blob already exists."""
        digest = sha256_digest(data)
        if self.has_blob(repo, digest):
            return digest
        r = self._check(self.session.post(f"{self.url}/v2/{repo}/blobs/uploads/", timeout=30), 202)
        location = urljoin(self.url + "/", r.headers["Location"])
        sep = "&" if "?" in location else "?"
        r = self._check(
            self.session.put(
                f"{location}{sep}digest={digest}",
                data=data,
                headers={"Content-Type": "application/octet-stream"},
                timeout=300,
            ),
            201,
        )
        got = r.headers.get("Docker-Content-Digest", digest)
        if got != digest:
            raise RegistryError(f"registry stored blob as {got}, expected {digest}")
        return digest

    def get_blob(self, repo: str, digest: str) -> bytes:
        r = self._check(self.session.get(f"{self.url}/v2/{repo}/blobs/{digest}", timeout=300), 200)
        return r.content

    def push_manifest(self, repo: str, ref: str, body: bytes, media_type: str) -> str:
        """PUT a manifest under a tag or digest; returns its digest (checked vs the server)."""
        digest = sha256_digest(body)
        r = self._check(
            self.session.put(
                f"{self.url}/v2/{repo}/manifests/{ref}",
                data=body,
                headers={"Content-Type": media_type},
                timeout=30,
            ),
            201,
        )
        got = r.headers.get("Docker-Content-Digest", digest)
        if got != digest:
            raise RegistryError(f"registry stored manifest as {got}, expected {digest}")
        return digest

    def get_manifest(self, repo: str, ref: str, accept: str = MANIFEST_ACCEPT) -> Manifest:
        """GET a manifest by tag or digest, accepting every type unless told otherwise."""
        r = self._check(
            self.session.get(
                f"{self.url}/v2/{repo}/manifests/{ref}", headers={"Accept": accept}, timeout=30
            ),
            200,
        )
        media_type = r.headers.get("Content-Type", "").split(";")[0].strip()
        return Manifest(r.content, media_type, sha256_digest(r.content))

    def tags(self, repo: str) -> list[str]:
        r = self._check(self.session.get(f"{self.url}/v2/{repo}/tags/list", timeout=30), 200)
        return list(r.json().get("tags") or [])
