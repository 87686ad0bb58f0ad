"""-v, --mount, --tmpfs and --volumes-from parsing: every form, and Docker's error texts."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from pynerd.containers.options import MountRequest, ResolvedMount
from pynerd.errors import InvalidArgument, NotFound
from pynerd.volumes.mounts import (
    merge_tmpfs_options,
    mounts_for_inspect,
    parse_mount_flag,
    parse_tmpfs_flag,
    parse_volume_flag,
    parse_volumes_from,
    ram_in_bytes,
    scoped_path,
    tmpfs_options,
    valid_mode,
)
from pynerd.volumes.store import natural_key, validate_name

INVALID_CHARS = (
    'includes invalid characters for a local volume name, only "[a-zA-Z0-9][a-zA-Z0-9_.-]" '
    "are allowed. If you intended to pass a host directory, use absolute path"
)


def error(fn: object, text: str) -> str:
    assert callable(fn)
    with pytest.raises(InvalidArgument) as info:
        fn(text)
    return info.value.message


# -- -v ----------------------------------------------------------------------------------


def test_volume_flag_anonymous() -> None:
    req = parse_volume_flag("/data")
    assert req == MountRequest(type="volume", source="", target="/data", origin="volume")


def test_volume_flag_named_with_modes() -> None:
    req = parse_volume_flag("cache:/var/cache:ro,nocopy,Z")
    assert (req.type, req.source, req.target) == ("volume", "cache", "/var/cache")
    assert req.readonly and req.volume_nocopy
    assert req.selinux_label == "Z"
    assert req.mode == "ro,nocopy,Z"


def test_volume_flag_bind_with_propagation() -> None:
    req = parse_volume_flag("/srv//www/:/usr/share/html/:rw,rshared")
    assert req.type == "bind"
    assert req.source == "/srv/www"
    assert req.target == "/usr/share/html"
    assert not req.readonly
    assert req.propagation == "rshared"
    assert req.bind_create_host_path


@pytest.mark.parametrize("prop", ["rprivate", "private", "rshared", "shared", "rslave", "slave"])
def test_volume_flag_every_propagation(prop: str) -> None:
    assert parse_volume_flag(f"/a:/b:{prop}").propagation == prop


@pytest.mark.parametrize("ro", ["ro", "rro", "ro-non-recursive", "ro-force-recursive"])
def test_volume_flag_readonly_words(ro: str) -> None:
    assert parse_volume_flag(f"/a:/b:{ro}").readonly


def test_volume_flag_dot_paths_become_absolute(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert parse_volume_flag("./sub:/x").source == str(tmp_path / "sub")
    assert parse_volume_flag(".:/x").source == str(tmp_path)


@pytest.mark.parametrize(
    "spec",
    [":/x", "/a:/b:ro:extra", "/data:ro", "/data:rw", "name:", "a:b:c:d"],
)
def test_volume_flag_invalid_specification(spec: str) -> None:
    assert error(parse_volume_flag, spec) == f"invalid volume specification: '{spec}'"


@pytest.mark.parametrize(
    ("spec", "mode"), [("/a:/b:bogus", "bogus"), ("/a:/b:ro,rw", "ro,rw"), ("v:/b:z,Z", "z,Z")]
)
def test_volume_flag_invalid_mode(spec: str, mode: str) -> None:
    assert error(parse_volume_flag, spec) == f"invalid mode: {mode}"


def test_volume_flag_relative_source_is_an_invalid_volume_name() -> None:
    assert error(parse_volume_flag, "../data:/x") == f'create ../data: "../data" {INVALID_CHARS}'
    assert error(parse_volume_flag, "foo/bar:/x") == f'create foo/bar: "foo/bar" {INVALID_CHARS}'
    assert error(parse_volume_flag, "~/x:/y") == f'create ~/x: "~/x" {INVALID_CHARS}'


def test_volume_flag_one_letter_name() -> None:
    assert error(parse_volume_flag, "a:/x") == (
        "create a: volume name is too short, names should be at least two alphanumeric characters"
    )


def test_volume_flag_target_checks() -> None:
    assert error(parse_volume_flag, "/a:/") == (
        "invalid volume specification: '/a:/': invalid mount config for type \"bind\": "
        "invalid specification: destination can't be '/'"
    )
    assert error(parse_volume_flag, "vol:rel") == (
        "invalid volume specification: 'vol:rel': invalid mount config for type \"volume\": "
        "invalid mount path: 'rel' mount path must be absolute"
    )
    assert error(parse_volume_flag, "/a::ro") == (
        "invalid volume specification: '/a::ro': invalid mount config for type \"bind\": "
        "field Target must not be empty"
    )


def test_volume_flag_options_of_the_wrong_kind() -> None:
    assert error(parse_volume_flag, "vol:/x:shared") == (
        "invalid volume specification: 'vol:/x:shared': invalid mount config for type "
        '"volume": field BindOptions must not be specified'
    )
    assert error(parse_volume_flag, "/a:/x:nocopy") == (
        "invalid volume specification: '/a:/x:nocopy': invalid mount config for type "
        '"bind": field VolumeOptions must not be specified'
    )


def test_valid_mode_allows_one_of_each_kind() -> None:
    assert valid_mode("")
    assert valid_mode("ro,z,rslave,nocopy,cached")
    assert not valid_mode("rslave,rshared")
    assert not valid_mode("nocopy,nocopy")


# -- --mount ------------------------------------------------------------------------------


def test_mount_flag_bind(tmp_path: Path) -> None:
    req = parse_mount_flag(
        f"type=bind,source={tmp_path},target=/app,readonly,bind-propagation=rslave"
    )
    assert req.type == "bind"
    assert req.source == str(tmp_path)
    assert req.target == "/app"
    assert req.readonly
    assert req.propagation == "rslave"
    assert not req.bind_create_host_path  # --mount never creates the host path
    assert req.origin == "mount"


def test_mount_flag_aliases_and_bool_values(tmp_path: Path) -> None:
    req = parse_mount_flag(f"type=bind,src={tmp_path},dst=/a,ro=false,bind-nonrecursive=true")
    assert not req.readonly and req.bind_nonrecursive
    assert parse_mount_flag(f"type=bind,src={tmp_path},destination=/a,ro=1").readonly


def test_mount_flag_volume_defaults_and_options() -> None:
    req = parse_mount_flag(
        "src=data,target=/d,volume-nocopy,volume-label=a=b,volume-opt=type=tmpfs,"
        "volume-opt=device=tmpfs,volume-driver=local"
    )
    assert req.type == "volume" and req.source == "data"
    assert req.volume_nocopy
    assert req.volume_labels == ("a=b",)
    assert req.volume_options == ("type=tmpfs", "device=tmpfs")
    assert req.volume_driver == "local"
    anon = parse_mount_flag("type=volume,target=/x")
    assert anon.source == ""


def test_mount_flag_tmpfs() -> None:
    req = parse_mount_flag("type=tmpfs,target=/run,tmpfs-size=64m,tmpfs-mode=1770")
    assert req.tmpfs_size == 64 << 20
    assert req.tmpfs_mode == 0o1770
    assert tmpfs_options(req) == ("noexec", "nosuid", "nodev", "rprivate", "mode=1770", "size=64m")


def test_mount_flag_quoted_csv(tmp_path: Path) -> None:
    path = tmp_path / "with,comma"
    path.mkdir()
    req = parse_mount_flag(f'type=bind,"source={path}",target=/x')
    assert req.source == str(path)


def test_mount_flag_bind_source_must_exist() -> None:
    assert error(parse_mount_flag, "type=bind,source=/nonexistent-pn,target=/x") == (
        'invalid mount config for type "bind": bind source path does not exist: /nonexistent-pn'
    )
    req = parse_mount_flag("type=bind,source=/nonexistent-pn,target=/x,bind-create-mountpoint=1")
    assert req.bind_create_host_path


MIX = "cannot mix '{}-*' options with mount type '{}'"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("type=bind", "target is required"),
        ("type=,target=/x", "type is required"),
        ("type=bind,target=/x,foo", "invalid field 'foo' must be a key=value pair"),
        ("type=bind,target=/x,bogus=1", "unexpected key 'bogus' in 'bogus=1'"),
        ("target=/x,ro=maybe", "invalid value for ro: maybe"),
        ("target=/x,volume-nocopy=2", "invalid value for volume-nocopy: 2"),
        ("type=tmpfs,target=/x,tmpfs-size=big", "invalid value for tmpfs-size: big"),
        ("type=tmpfs,target=/x,tmpfs-mode=999", "invalid value for tmpfs-mode: 999"),
        ("type=tmpfs,target=/x,volume-nocopy", MIX.format("volume", "tmpfs")),
        ("type=volume,target=/x,bind-propagation=shared", MIX.format("bind", "volume")),
        ("type=bind,target=/x,tmpfs-size=1m", MIX.format("tmpfs", "bind")),
        ("", "EOF"),
    ],
)
def test_mount_flag_cli_errors(text: str, message: str) -> None:
    expected = f'invalid argument "{text}" for "--mount" flag: {message}'
    assert error(parse_mount_flag, text) == expected


@pytest.mark.parametrize(
    ("text", "kind", "message"),
    [
        ("type=bind,target=/x", "bind", "field Source must not be empty"),
        (
            "type=bind,source=rel,target=/x",
            "bind",
            "invalid mount path: 'rel' mount path must be absolute",
        ),
        (
            "type=bind,source=/,target=/x,bind-propagation=weird",
            "bind",
            "invalid propagation mode: weird",
        ),
        ("type=volume,target=/", "volume", "invalid specification: destination can't be '/'"),
        ("type=volume,target=x", "volume", "invalid mount path: 'x' mount path must be absolute"),
        (
            "type=volume,target=/x,ro",
            "volume",
            "must not set ReadOnly mode when using anonymous volumes",
        ),
        ("type=tmpfs,source=x,target=/x", "tmpfs", "field Source must not be specified"),
        ("type=npipe,source=x,target=/x", "npipe", "mount type unknown"),
    ],
)
def test_mount_flag_daemon_errors(text: str, kind: str, message: str) -> None:
    expected = f'invalid mount config for type "{kind}": {message}'
    assert error(parse_mount_flag, text) == expected


def test_mount_flag_volume_creation_errors() -> None:
    text = "type=volume,source=a/b,target=/x"
    assert error(parse_mount_flag, text) == f'create a/b: "a/b" {INVALID_CHARS}'
    text = "type=volume,source=ab,target=/x,volume-opt=foo=1"
    assert error(parse_mount_flag, text) == 'create ab: invalid option: "foo"'
    text = "type=volume,source=ab,target=/x,volume-opt=device=/d"
    assert error(parse_mount_flag, text) == 'create ab: missing required option: "type"'
    with pytest.raises(NotFound) as info:
        parse_mount_flag("type=volume,source=ab,target=/x,volume-driver=nfs")
    assert info.value.message == 'error looking up volume plugin nfs: plugin "nfs" not found'


# -- --tmpfs ------------------------------------------------------------------------------


def test_tmpfs_flag_plain() -> None:
    req = parse_tmpfs_flag("/run")
    assert (req.type, req.target, req.origin) == ("tmpfs", "/run", "tmpfs")
    assert tmpfs_options(req) == ("noexec", "nosuid", "nodev", "rprivate")


def test_tmpfs_flag_options() -> None:
    req = parse_tmpfs_flag("/run:rw,size=64m,mode=1777")
    assert req.tmpfs_size == 64 << 20 and req.tmpfs_mode == 0o1777 and not req.readonly
    assert tmpfs_options(req) == ("noexec", "nosuid", "nodev", "rprivate", "mode=1777", "size=64m")


def test_tmpfs_flag_overrides_defaults() -> None:
    req = parse_tmpfs_flag("/x:ro,exec,uid=1000,size=50%")
    assert req.readonly
    assert req.tmpfs_size is None  # the kernel reads percentages itself
    assert tmpfs_options(req) == (
        "nosuid",
        "nodev",
        "rprivate",
        "ro",
        "exec",
        "uid=1000",
        "size=50%",
    )


def test_tmpfs_flag_errors() -> None:
    assert error(parse_tmpfs_flag, "/x:bogus") == 'Invalid tmpfs option ["bogus"]'
    assert error(parse_tmpfs_flag, "/x:foo=1") == 'Invalid tmpfs option ["foo" "1"]'
    assert error(parse_tmpfs_flag, "/") == "invalid specification: destination can't be '/'"
    assert error(parse_tmpfs_flag, "run") == "invalid mount path: 'run' mount path must be absolute"


def test_merge_tmpfs_options_keeps_the_last_of_each_flag() -> None:
    assert merge_tmpfs_options(["noexec", "rprivate", "exec", "shared", "size=1", "size=2"]) == (
        "exec",
        "shared",
        "size=2",
    )


def test_ram_in_bytes() -> None:
    assert ram_in_bytes("100") == 100
    assert ram_in_bytes("1k") == 1024
    assert ram_in_bytes("1.5g") == 3 << 29
    assert ram_in_bytes("64MiB") == 64 << 20
    assert ram_in_bytes("2 kb") == 2048
    with pytest.raises(ValueError):
        ram_in_bytes("1x")


# -- --volumes-from -----------------------------------------------------------------------


def test_volumes_from() -> None:
    assert parse_volumes_from("web") == ("web", "rw")
    assert parse_volumes_from("web:ro") == ("web", "ro")
    assert parse_volumes_from("web:rw,z") == ("web", "rw,z")
    assert error(parse_volumes_from, "web:shared") == "invalid mode: shared"
    assert error(parse_volumes_from, "web:nocopy") == "invalid mode: nocopy"
    assert error(parse_volumes_from, "web:bad") == "invalid mode: bad"
    assert error(parse_volumes_from, "") == "volumes-from specification cannot be an empty string"


# -- names, inspect shape, scoped paths ---------------------------------------------------


@pytest.mark.parametrize("name", ["ab", "a1", "my_vol", "my-vol.2", "A" * 200, "0" * 64])
def test_valid_names(name: str) -> None:
    validate_name(name)


@pytest.mark.parametrize("name", ["_ab", ".ab", "-ab", "a b", "a/b", "é1", "ab!"])
def test_invalid_names(name: str) -> None:
    with pytest.raises(InvalidArgument, match="includes invalid characters"):
        validate_name(name)


def test_natural_order() -> None:
    names = ["vol10", "vol2", "abc", "vol1", "Vol3"]
    assert sorted(names, key=natural_key) == ["Vol3", "abc", "vol1", "vol2", "vol10"]


def test_mounts_for_inspect_shapes() -> None:
    mounts = [
        ResolvedMount("volume", "/v/x/_data", "/data", name="x", driver="local", mode="z"),
        ResolvedMount("bind", "/srv", "/srv", rw=False, propagation="rslave", mode="ro,rslave"),
        ResolvedMount("tmpfs", "", "/run", propagation=""),
        ResolvedMount("tmpfs", "", "/tmp", listed=False),
    ]
    assert mounts_for_inspect(mounts) == [
        {
            "Type": "volume",
            "Name": "x",
            "Source": "/v/x/_data",
            "Destination": "/data",
            "Driver": "local",
            "Mode": "z",
            "RW": True,
            "Propagation": "",
        },
        {
            "Type": "bind",
            "Source": "/srv",
            "Destination": "/srv",
            "Mode": "ro,rslave",
            "RW": False,
            "Propagation": "rslave",
        },
        {
            "Type": "tmpfs",
            "Source": "",
            "Destination": "/run",
            "Mode": "",
            "RW": True,
            "Propagation": "",
        },
    ]


def test_scoped_path_keeps_links_inside_the_root(tmp_path: Path) -> None:
    root = tmp_path / "root"
    (root / "real").mkdir(parents=True)
    os.symlink("/etc", root / "abs")
    os.symlink("../../../../real", root / "rel")
    os.symlink("loop", root / "loop")
    assert scoped_path(root, "/abs/passwd") == root / "etc" / "passwd"
    assert scoped_path(root, "/rel") == root / "real"
    assert scoped_path(root, "/../../x") == root / "x"
    assert scoped_path(root, "/missing/a") == root / "missing" / "a"
    with pytest.raises(InvalidArgument, match="too many links"):
        scoped_path(root, "/loop")
