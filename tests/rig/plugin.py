"""pytest plugin: session registry, fixture images, per-test state dirs and a host leak check.

Loaded by ``tests/conftest.py`` (``pytest_plugins = ["tests.rig.plugin"]``) or ``-p``.
Images are built lazily: a test session that never asks for a registry never starts one.
Set ``PYNERD_LEAK_CHECK=0`` to skip the leak check (e.g. when several engineers run
integration suites on one host at the same time and see each other's netns).
"""

from __future__ import annotations

import os
import secrets
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.rig import images, leaks
from tests.rig.registry import Registry

_MARKERS = {
    "integration": "needs root and host tools (runc, registry, skopeo); touches the host",
    "slow": "takes more than a few seconds (e.g. builds the ~100 MB image)",
}


def pytest_configure(config: pytest.Config) -> None:
    """Register markers unless the project's config already does; tag our processes."""
    known = {str(line).split(":")[0].strip() for line in config.getini("markers")}
    for name, text in _MARKERS.items():
        if name not in known:
            config.addinivalue_line("markers", f"{name}: {text}")
    # Inherited by pynerd/runc children, so the leak check can tell our processes from
    # those of a concurrent test session on the same host.
    os.environ.setdefault(leaks.SESSION_ENV, secrets.token_hex(8))


@pytest.fixture(scope="session", autouse=True)
def host_leak_check(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Fail the session (error at teardown, non-zero exit) if it leaked host state.

    Autouse and session-scoped, so it is set up before and torn down after every other
    session fixture (the registry included). A non-empty diff is re-checked after a short
    pause so that resources still being torn down asynchronously are not reported.
    """
    if os.environ.get("PYNERD_LEAK_CHECK", "1") == "0":
        yield
        return
    base = str(tmp_path_factory.getbasetemp())
    before = leaks.snapshot((base,))
    yield
    found = leaks.diff(before, leaks.snapshot((base,)))
    if found:
        time.sleep(1.0)
        found = leaks.diff(before, leaks.snapshot((base,)))
    if found:
        # First line is what the short summary shows: make it name the leaks.
        pytest.fail(
            f"HOST LEAK CHECK: {len(found)} leaked: {'; '.join(found)}\n"
            "the test session left behind:\n  " + "\n  ".join(found),
            pytrace=False,
        )


@pytest.fixture(scope="session")
def registry() -> Iterator[Registry]:
    """A running local registry (http on 127.0.0.1:PORT); stopped at session end."""
    reg = Registry().start()
    try:
        yield reg
    finally:
        reg.stop()


@pytest.fixture(scope="session")
def busybox_image(registry: Registry) -> images.BuiltImage:
    """``busybox:latest``: one layer, host arch, Cmd ["sh"]; ``.rootfs_tar`` for import."""
    return images.build_busybox(registry)


@pytest.fixture(scope="session")
def multilayer_image(registry: Registry) -> images.BuiltImage:
    """``multilayer:latest`` (Docker) + ``.variants["oci"]``; ``.expected_tree`` to compare."""
    return images.build_multilayer(registry)


@pytest.fixture(scope="session")
def multiplatform_image(registry: Registry) -> images.BuiltIndex:
    """OCI index ``multiplatform:latest`` + ``.variants["docker"]`` manifest list."""
    return images.build_multiplatform(registry)


@pytest.fixture(scope="session")
def large_image(registry: Registry) -> images.BuiltImage:
    """~100 MB, 6-layer image; blobs cached under ``images.cache_dir()``."""
    return images.build_large(registry)


@pytest.fixture
def data_root(tmp_path: Path) -> Path:
    """Fresh pynerd data root for one test."""
    path = tmp_path / "data"
    path.mkdir()
    return path


@pytest.fixture
def run_root(tmp_path: Path) -> Path:
    """Fresh pynerd runtime-state root for one test."""
    path = tmp_path / "run"
    path.mkdir()
    return path


@pytest.fixture
def unique_name() -> Callable[..., str]:
    """Factory of short unique names, ``pn-<8 hex>`` (prefix overridable).

    Short because names end up in netns/veth/iptables identifiers (IFNAMSIZ is 16).
    """

    def make(prefix: str = "pn") -> str:
        return f"{prefix}-{secrets.token_hex(4)}"

    return make
