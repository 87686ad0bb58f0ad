"""CreateOptions and the mount requests behave as frozen dataclasses (frozen_record)."""

from __future__ import annotations

import dataclasses

import pytest

from pynerd.containers.options import CreateOptions, MountRequest, ResolvedMount


def test_defaults_keywords_and_positional_arguments() -> None:
    opts = CreateOptions(image="busybox", rm=True, network=("none",))
    assert (opts.image, opts.rm, opts.network, opts.pull, opts.attach) == (
        "busybox",
        True,
        ("none",),
        "missing",
        (),
    )
    assert CreateOptions("busybox", ("true",)).command == ("true",)
    req = MountRequest("bind", "/src", "/dst", readonly=True)
    assert (req.type, req.readonly, req.propagation, req.bind_create_host_path) == (
        "bind",
        True,
        "",
        True,
    )
    assert ResolvedMount("tmpfs", "", "/t").options == ()


def test_equality_hash_and_repr_like_a_dataclass() -> None:
    a = CreateOptions(image="busybox", env=("A=1",))
    assert a == CreateOptions(image="busybox", env=("A=1",))
    assert a != CreateOptions(image="busybox", env=("A=2",))
    assert a != "busybox"
    assert hash(a) == hash(CreateOptions(image="busybox", env=("A=1",)))
    assert len({a, CreateOptions(image="busybox", env=("A=1",))}) == 1
    assert repr(a).startswith("CreateOptions(image='busybox', command=(), name=None,")
    assert repr(MountRequest("volume", "v", "/d")).startswith(
        "MountRequest(type='volume', source='v', target='/d', readonly=False,"
    )


def test_frozen() -> None:
    opts = CreateOptions(image="busybox")
    with pytest.raises(dataclasses.FrozenInstanceError):
        opts.rm = True  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        del opts.image  # type: ignore[misc]


@pytest.mark.parametrize(
    ("args", "kwargs", "message"),
    [
        ((), {}, "missing required arguments: image"),
        ((), {"image": "b", "nope": 1}, "unexpected keyword argument 'nope'"),
        (("b",), {"image": "c"}, "multiple values for argument 'image'"),
        (tuple(range(100)), {}, "takes at most 61 positional arguments"),
    ],
)
def test_bad_arguments_raise_type_error(args: tuple, kwargs: dict, message: str) -> None:  # type: ignore[type-arg]
    with pytest.raises(TypeError, match=message):
        CreateOptions(*args, **kwargs)
