"""Volumes end to end: the `volume` commands, in-use rules, and mounts for containers."""

from __future__ import annotations

import contextlib
import io
import json
import os
import stat
import threading
from pathlib import Path
from typing import Any

import pytest

from pynerd.containers.options import MountRequest
from pynerd.containers.store import ContainerStore
from pynerd.errors import InvalidArgument, NotFound
from pynerd.volumes.mounts import (
    copy_up,
    discard,
    mounts_for_inspect,
    parse_mount_flag,
    parse_tmpfs_flag,
    parse_volume_flag,
    release,
    resolve,
)
from pynerd.volumes.store import ANONYMOUS_LABEL, VolumeStore
from tests.cli import Cli

pytestmark = pytest.mark.integration

if os.geteuid() != 0:  # pragma: no cover
    pytest.skip("needs root (chown, device files)", allow_module_level=True)


@pytest.fixture
def ns(cli: Cli) -> Path:
    return cli.data_root / "namespaces" / "default"


def ok(cli: Cli, *args: str) -> str:
    r = cli(*args)
    assert r.code == 0, r.err
    return r.out


def names(cli: Cli, *args: str) -> list[str]:
    return ok(cli, "volume", "ls", "-q", *args).split()


def seed_container(ns: Path, cid: str, mounts: list[dict[str, Any]]) -> dict[str, Any]:
    """A container record as the lifecycle code writes it (only what volumes read)."""
    record = {"Id": cid, "Name": "/c" + cid[:4], "Mounts": mounts}
    ContainerStore(ns).records.put(cid, record)
    return record


def volume_mount(store: VolumeStore, name: str, dest: str = "/data") -> dict[str, Any]:
    vol = store.get(name)
    return {"Type": "volume", "Name": name, "Source": vol["Mountpoint"], "Destination": dest,
            "Driver": "local", "Mode": "z", "RW": True, "Propagation": ""}  # fmt: skip


CID_A = "a" * 64
CID_B = "b" * 64


# -- the commands ---------------------------------------------------------------------


def test_create_inspect_and_idempotent_create(cli: Cli, ns: Path) -> None:
    assert ok(cli, "volume", "create", "--label", "team=db", "--label", "tier", "data") == "data\n"
    (obj,) = json.loads(ok(cli, "volume", "inspect", "data"))
    assert list(obj) == ["CreatedAt", "Driver", "Labels", "Mountpoint", "Name", "Options", "Scope"]
    assert obj["Driver"] == "local" and obj["Scope"] == "local" and obj["Name"] == "data"
    assert obj["Labels"] == {"team": "db", "tier": ""}
    assert obj["Options"] is None
    assert obj["Mountpoint"] == str(ns / "volumes" / "data" / "_data")
    assert stat.S_IMODE(os.stat(obj["Mountpoint"]).st_mode) == 0o755
    Path(obj["Mountpoint"], "keep").write_text("x")
    # Creating it again returns the same volume, data and labels untouched.
    assert ok(cli, "volume", "create", "--label", "other=1", "data") == "data\n"
    (again,) = json.loads(ok(cli, "volume", "inspect", "data"))
    assert again == obj
    assert Path(obj["Mountpoint"], "keep").read_text() == "x"
    assert ok(cli, "volume", "inspect", "-f", "{{.Name}} {{.Labels.team}}", "data") == "data db\n"


def test_create_anonymous_and_name_rules(cli: Cli) -> None:
    name = ok(cli, "volume", "create").strip()
    assert len(name) == 64 and all(c in "0123456789abcdef" for c in name)
    (obj,) = json.loads(ok(cli, "volume", "inspect", name))
    assert obj["Labels"] == {ANONYMOUS_LABEL: ""}
    assert ok(cli, "volume", "create", "--name", "viaflag") == "viaflag\n"
    r = cli("volume", "create", "--name", "a1", "b1")
    assert r.code == 1
    assert "conflicting options: either specify --name or provide positional arg" in r.err
    r = cli("volume", "create", "bad/name")
    assert r.err == (
        'Error: create bad/name: "bad/name" includes invalid characters for a local volume '
        'name, only "[a-zA-Z0-9][a-zA-Z0-9_.-]" are allowed. If you intended to pass a host '
        "directory, use absolute path\n"
    )
    r = cli("volume", "create", "-d", "nfs", "vv")
    assert r.err == 'Error: error looking up volume plugin nfs: plugin "nfs" not found\n'
    r = cli("volume", "create", "-o", "foo=bar", "vv")
    assert r.err == 'Error: create vv: invalid option: "foo"\n'
    assert ok(cli, "volume", "create", "-o", "type=tmpfs", "-o", "device=tmpfs", "tv") == "tv\n"
    assert json.loads(ok(cli, "volume", "inspect", "tv"))[0]["Options"] == {
        "type": "tmpfs",
        "device": "tmpfs",
    }


def test_ls_table_format_and_filters(cli: Cli, ns: Path) -> None:
    for args in (["vol10"], ["vol2"], ["--label", "env=prod", "app1"], ["--label", "env", "app2"]):
        ok(cli, "volume", "create", *args)
    out = ok(cli, "volume", "ls")
    assert out.splitlines() == [
        "DRIVER    VOLUME NAME",
        "local     app1",
        "local     app2",
        "local     vol2",
        "local     vol10",
    ]
    assert names(cli, "-f", "label=env") == ["app1", "app2"]
    assert names(cli, "-f", "label=env=prod") == ["app1"]
    assert names(cli, "-f", "name=vol") == ["vol2", "vol10"]
    assert names(cli, "-f", "name=^vol1") == ["vol10"]
    assert names(cli, "-f", "driver=local", "-f", "name=app") == ["app1", "app2"]
    assert names(cli, "-f", "driver=other") == []
    store = VolumeStore(ns)
    seed_container(ns, CID_A, [volume_mount(store, "vol2")])
    assert names(cli, "-f", "dangling=true") == ["app1", "app2", "vol10"]
    assert names(cli, "-f", "dangling=0") == ["vol2"]
    r = cli("volume", "ls", "-f", "dangling=maybe")
    assert r.err == "Error: invalid filter 'dangling=[maybe]'\n"
    r = cli("volume", "ls", "-f", "bogus=1")
    assert (r.code, r.err) == (1, "Error: invalid filter 'bogus'\n")
    out = ok(cli, "volume", "ls", "--format", '{{.Name}}\t{{.Label "env"}}', "-f", "name=app")
    assert out == "app1\tprod\napp2\t\n"
    table = ok(cli, "volume", "ls", "--format", "table {{.Name}}\t{{.Scope}}", "-f", "name=app1")
    assert table.splitlines() == ["VOLUME NAME   SCOPE", "app1          local"]
    row = json.loads(ok(cli, "volume", "ls", "--format", "json", "-f", "name=app1"))
    assert row["Name"] == "app1" and row["Labels"] == "env=prod" and row["Driver"] == "local"


def test_inspect_reports_each_missing_name(cli: Cli) -> None:
    ok(cli, "volume", "create", "here")
    r = cli("volume", "inspect", "nope", "here", "gone")
    assert r.code == 1
    assert [o["Name"] for o in json.loads(r.out)] == ["here"]
    assert r.err == "Error: No such volume: nope\nError: No such volume: gone\n"


def test_rm_in_use_missing_and_force(cli: Cli, ns: Path) -> None:
    for n in ("used", "free1", "free2"):
        ok(cli, "volume", "create", n)
    store = VolumeStore(ns)
    seed_container(ns, CID_A, [volume_mount(store, "used")])
    seed_container(ns, CID_B, [volume_mount(store, "used", "/other")])
    mountpoint = Path(store.get("free1")["Mountpoint"])
    r = cli("volume", "rm", "free1", "used", "missing", "free2")
    assert r.code == 1
    assert r.out == "free1\nfree2\n"
    assert r.err == (
        f"Error: remove used: volume is in use - [{CID_A}, {CID_B}]\n"
        "Error: No such volume: missing\n"
    )
    assert not mountpoint.parent.exists()
    assert names(cli) == ["used"]
    # -f ignores a missing volume (and echoes it, as Docker does) but not one in use.
    r = cli("volume", "rm", "-f", "missing", "used")
    assert r.out == "missing\n"
    assert r.err == f"Error: remove used: volume is in use - [{CID_A}, {CID_B}]\n"
    ContainerStore(ns).records.delete(CID_A)
    ContainerStore(ns).records.delete(CID_B)
    assert ok(cli, "volume", "remove", "used") == "used\n"
    assert names(cli) == []
    assert sorted(os.listdir(ns / "volumes")) == []


def test_prune_anonymous_by_default_all_with_a(
    cli: Cli, ns: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = VolumeStore(ns)
    anon_used = store.create(None)["Name"]
    anon_free = store.create(None, {"keep": "no"})["Name"]
    anon_kept = store.create(None, {"keep": "yes"})["Name"]
    ok(cli, "volume", "create", "named")
    seed_container(ns, CID_A, [volume_mount(store, anon_used)])
    Path(store.get(anon_free)["Mountpoint"], "f").write_bytes(b"x" * 5000)

    monkeypatch.setattr("sys.stdin", io.StringIO("n\n"))
    r = cli("volume", "prune")
    assert r.out == (
        "WARNING! This will remove anonymous local volumes not used by at least one container.\n"
        "Are you sure you want to continue? [y/N] "
    )
    assert len(names(cli)) == 4

    monkeypatch.setattr("sys.stdin", io.StringIO("y\n"))
    r = cli("volume", "prune", "--filter", "label!=keep=yes")
    assert r.out.endswith(f"[y/N] Deleted Volumes:\n{anon_free}\n\nTotal reclaimed space: 5kB\n")
    assert sorted(names(cli)) == sorted([anon_used, anon_kept, "named"])

    r = cli("volume", "prune", "-f", "--filter", "label=nothing")
    assert r.out == "Total reclaimed space: 0B\n"

    r = cli("volume", "prune", "-a", "-f")
    assert r.out == f"Deleted Volumes:\n{anon_kept}\nnamed\n\nTotal reclaimed space: 0B\n" or (
        r.out == f"Deleted Volumes:\nnamed\n{anon_kept}\n\nTotal reclaimed space: 0B\n"
    )
    assert names(cli) == [anon_used]
    r = cli("volume", "prune", "-f", "--filter", "all=maybe")
    assert r.err == (
        "Error: invalid filter 'all': strconv.ParseBool: parsing \"maybe\": invalid syntax\n"
    )
    r = cli("volume", "prune", "-f", "--filter", "until=1h")
    assert r.err == "Error: invalid filter 'until'\n"


def test_prune_all_filter_and_prompt_wording(
    cli: Cli, ns: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ok(cli, "volume", "create", "named")
    monkeypatch.setattr("sys.stdin", io.StringIO("\n"))
    r = cli("volume", "prune", "--all")
    assert r.out.startswith(
        "WARNING! This will remove all local volumes not used by at least one container.\n"
    )
    assert names(cli) == ["named"]
    r = cli("volume", "prune", "-f", "--filter", "all=true")
    assert r.out == "Deleted Volumes:\nnamed\n\nTotal reclaimed space: 0B\n"


def test_usage_counts_apparent_size_hardlinks_once(ns: Path) -> None:
    store = VolumeStore(ns)
    data = Path(store.create("sized")["Mountpoint"])
    (data / "a").write_bytes(b"1" * 1000)
    os.link(data / "a", data / "b")
    (data / "d").mkdir()
    dir_size = os.lstat(data / "d").st_size
    assert store.usage("sized") == 1000 + dir_size
    with pytest.raises(NotFound, match="No such volume: nope"):
        store.usage("nope")


def test_concurrent_creates_make_one_volume(ns: Path) -> None:
    store = VolumeStore(ns)
    results: list[str] = []

    def make() -> None:
        results.append(store.create("shared")["CreatedAt"])

    threads = [threading.Thread(target=make) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(results)) == 1 and len(results) == 8
    assert os.listdir(ns / "volumes") == ["shared"]


# -- mounts for containers ------------------------------------------------------------


@pytest.fixture
def rootfs(tmp_path: Path) -> Path:
    """A container rootfs with content under /data, links and an image file."""
    root = tmp_path / "rootfs"
    data = root / "data"
    (data / "sub").mkdir(parents=True)
    os.chown(data, 1000, 1001)
    os.chmod(data, 0o750)
    (data / "file").write_text("from image\n")
    os.chown(data / "file", 1234, 4321)
    os.chmod(data / "file", 0o640)
    os.chown(data / "sub", 42, 43)
    os.chmod(data / "sub", 0o701)
    (data / "sub" / "setuid").write_text("s")
    os.chmod(data / "sub" / "setuid", 0o4755)
    os.link(data / "file", data / "hardlink")
    os.symlink("/etc", data / "etc-link")  # must be copied as a link, never followed
    os.symlink("../../../../../etc/passwd", data / "escape")
    with contextlib.suppress(OSError):  # no user xattrs here: the check below is skipped
        os.setxattr(data / "file", "user.pynerd", b"v")
    os.symlink("/data", root / "alias")  # absolute link: resolved inside the rootfs
    os.symlink("/etc", root / "hostetc")  # would be the host's /etc if followed
    (root / "afile").write_text("not a dir")
    return root


def test_copy_up_fills_an_empty_volume_once(ns: Path, rootfs: Path) -> None:
    req = parse_volume_flag("data:/data")
    (m,) = resolve(ns, [req], None, [], rootfs)
    assert (m.type, m.name, m.anonymous, m.mode) == ("volume", "data", False, "z")
    assert m.options == ("rbind", "rw", "rprivate")
    vol = Path(m.source)
    assert vol == ns / "volumes" / "data" / "_data"
    assert (vol / "file").read_text() == "from image\n"
    st = os.lstat(vol)
    assert (st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)) == (1000, 1001, 0o750)
    st = os.lstat(vol / "file")
    assert (st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)) == (1234, 4321, 0o640)
    st = os.lstat(vol / "sub")
    assert (st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)) == (42, 43, 0o701)
    assert stat.S_IMODE(os.lstat(vol / "sub" / "setuid").st_mode) == 0o4755
    assert os.lstat(vol / "hardlink").st_ino == os.lstat(vol / "file").st_ino
    assert os.readlink(vol / "etc-link") == "/etc"
    assert os.readlink(vol / "escape") == "../../../../../etc/passwd"
    assert stat.S_ISLNK(os.lstat(vol / "etc-link").st_mode)
    if "user.pynerd" in os.listxattr(rootfs / "data" / "file"):
        assert os.getxattr(vol / "file", "user.pynerd") == b"v"
    assert not [n for n in os.listdir(vol.parent) if n.startswith(".copyup")]

    # Emptied by the user: the next container does not copy again.
    for n in os.listdir(vol):
        p = vol / n
        if p.is_dir() and not p.is_symlink():
            import shutil

            shutil.rmtree(p)
        else:
            p.unlink()
    resolve(ns, [req], None, [], rootfs)
    assert os.listdir(vol) == []


def test_copy_up_skips_volumes_with_data_and_nocopy(ns: Path, rootfs: Path) -> None:
    store = VolumeStore(ns)
    Path(store.create("full")["Mountpoint"], "mine").write_text("user data")
    resolve(ns, [parse_volume_flag("full:/data")], None, [], rootfs)
    assert os.listdir(store.data_path("full")) == ["mine"]
    resolve(ns, [parse_volume_flag("empty:/data:nocopy")], None, [], rootfs)
    assert os.listdir(store.data_path("empty")) == []
    assert not store.initialized("empty")  # a later mount without nocopy still fills it


def test_copy_up_resolves_links_inside_the_rootfs(ns: Path, rootfs: Path) -> None:
    (m,) = resolve(ns, [parse_mount_flag("type=volume,src=viaalias,dst=/alias")], None, [], rootfs)
    assert (Path(m.source) / "file").read_text() == "from image\n"
    (m,) = resolve(ns, [parse_volume_flag("hostetc:/hostetc")], None, [], rootfs)
    assert os.listdir(m.source) == []  # /etc of the rootfs does not exist; the host's untouched


def test_copy_up_happens_once_under_concurrency(ns: Path, rootfs: Path) -> None:
    store = VolumeStore(ns)
    store.create("race")
    copied: list[bool] = []
    threads = [
        threading.Thread(target=lambda: copied.append(copy_up(store, "race", rootfs, "/data")))
        for _ in range(6)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert copied.count(True) == 1
    assert sorted(os.listdir(store.data_path("race"))) == sorted(os.listdir(rootfs / "data"))


def test_image_volumes_get_anonymous_volumes(ns: Path, rootfs: Path) -> None:
    image_volumes = {"/data": {}, "/cache/": {}, "/srv": {}}
    reqs = [parse_volume_flag("named:/srv")]
    mounts = resolve(ns, reqs, image_volumes, [], rootfs)
    by_dest = {m.destination: m for m in mounts}
    assert set(by_dest) == {"/data", "/cache", "/srv"}
    assert by_dest["/srv"].name == "named" and not by_dest["/srv"].anonymous
    for dest in ("/data", "/cache"):
        m = by_dest[dest]
        assert m.anonymous and len(m.name) == 64 and m.mode == ""
        assert VolumeStore(ns).get(m.name)["Labels"] == {ANONYMOUS_LABEL: ""}
    assert (Path(by_dest["/data"].source) / "file").exists()  # image content copied up
    # an explicit anonymous -v volume over an image volume: one anonymous volume there
    mounts = resolve(ns, [parse_volume_flag("/data")], {"/data": {}}, [], rootfs)
    assert len(mounts) == 1 and mounts[0].anonymous
    with pytest.raises(Exception, match="cannot mount volume over existing file"):
        resolve(ns, [], {"/afile": {}}, [], rootfs)


def test_binds_tmpfs_and_failures(ns: Path, rootfs: Path, tmp_path: Path) -> None:
    host = tmp_path / "host" / "deep"
    reqs = [
        parse_volume_flag(f"{host}:/mnt/a:ro,rslave"),
        parse_tmpfs_flag("/run:size=64m"),
        parse_mount_flag("type=tmpfs,dst=/scratch,tmpfs-mode=1777"),
        parse_volume_flag("/mnt"),
    ]
    mounts = resolve(ns, reqs, None, [], rootfs)
    assert host.is_dir() and stat.S_IMODE(os.stat(host).st_mode) == 0o755  # -v creates it
    assert [m.destination for m in mounts] == ["/run", "/scratch", "/mnt", "/mnt/a"]
    bind = mounts[-1]
    assert (bind.type, bind.source, bind.rw, bind.propagation) == (
        "bind",
        str(host),
        False,
        "rslave",
    )
    assert bind.options == ("rbind", "ro", "rslave")
    assert mounts[0].options == ("noexec", "nosuid", "nodev", "rprivate", "size=64m")
    assert mounts[1].options == ("noexec", "nosuid", "nodev", "rprivate", "mode=1777")
    inspect = mounts_for_inspect(mounts)
    assert [e["Destination"] for e in inspect] == ["/scratch", "/mnt", "/mnt/a"]  # not --tmpfs
    assert inspect[2] == {
        "Type": "bind",
        "Source": str(host),
        "Destination": "/mnt/a",
        "Mode": "ro,rslave",
        "RW": False,
        "Propagation": "rslave",
    }

    missing = tmp_path / "missing"
    with pytest.raises(InvalidArgument) as info:
        parse_mount_flag(f"type=bind,src={missing},dst=/x")
    assert info.value.message == (
        f'invalid mount config for type "bind": bind source path does not exist: {missing}'
    )
    # Checked again when resolving (the path may vanish between parse and create).
    req = MountRequest(type="bind", source=str(missing), target="/x", bind_create_host_path=False)
    with pytest.raises(InvalidArgument, match="bind source path does not exist"):
        resolve(ns, [req], None, [], rootfs)
    assert not missing.exists()

    before = set(VolumeStore(ns).bucket.keys())
    with pytest.raises(InvalidArgument, match="Duplicate mount point: /x"):
        resolve(ns, [parse_volume_flag("/x"), parse_tmpfs_flag("/x")], None, [], rootfs)
    # A failure after anonymous volumes were made removes them again.
    with pytest.raises(InvalidArgument, match="bind source path does not exist"):
        resolve(ns, [parse_volume_flag("/anon"), req], {"/data": {}}, [], rootfs)
    assert set(VolumeStore(ns).bucket.keys()) == before


def test_volumes_from(ns: Path, rootfs: Path, tmp_path: Path) -> None:
    host = tmp_path / "bindsrc"
    source_mounts = resolve(
        ns,
        [parse_volume_flag("shared:/shared"), parse_volume_flag(f"{host}:/b:rshared"),
         parse_volume_flag("/anon"), parse_tmpfs_flag("/run")],
        None,
        [],
        rootfs,
    )  # fmt: skip
    other = seed_container(ns, CID_A, mounts_for_inspect(source_mounts))
    mounts = resolve(ns, [parse_volume_flag("mine:/b")], None, [(other, "ro")], rootfs)
    by_dest = {m.destination: m for m in mounts}
    assert set(by_dest) == {"/shared", "/b", "/anon"}  # /run: a --tmpfs is not shared
    assert by_dest["/b"].name == "mine"  # explicit mounts win over borrowed ones
    shared = by_dest["/shared"]
    assert (shared.name, shared.rw, shared.options) == (
        "shared",
        False,
        ("rbind", "ro", "rprivate"),
    )
    assert by_dest["/anon"].anonymous and not by_dest["/anon"].rw
    plain = resolve(ns, [], None, [other], rootfs)
    assert {m.destination: m.rw for m in plain} == {"/shared": True, "/b": True, "/anon": True}
    bind = next(m for m in plain if m.destination == "/b")
    assert (bind.source, bind.propagation) == (str(host), "rshared")
    # discard never removes volumes another container lists
    discard(ns, plain)
    assert VolumeStore(ns).find(by_dest["/anon"].name) is not None
    ContainerStore(ns).records.delete(CID_A)
    VolumeStore(ns).remove_one("shared")
    with pytest.raises(NotFound, match="No such volume: shared"):
        resolve(ns, [], None, [other], rootfs)


def test_release_removes_only_unshared_anonymous_volumes(ns: Path, rootfs: Path) -> None:
    mounts = resolve(
        ns, [parse_volume_flag("keepme:/k"), parse_volume_flag("/anon")], {"/img": {}}, [], rootfs
    )
    record = seed_container(ns, CID_A, mounts_for_inspect(mounts))
    anon = {m.name for m in mounts if m.anonymous}
    assert len(anon) == 2
    store = VolumeStore(ns)
    shared = next(iter(anon))
    seed_container(ns, CID_B, [volume_mount(store, shared)])  # e.g. --volumes-from
    release(ns, record, remove_anonymous=False)
    assert all(store.find(n) for n in anon)
    release(ns, record, remove_anonymous=True)
    assert store.find("keepme") is not None
    assert store.find(shared) is not None
    assert [n for n in anon if store.find(n)] == [shared]
