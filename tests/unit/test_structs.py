"""frozen_record: frozen dataclass behaviour without dataclass's start-up cost."""

from __future__ import annotations

import dataclasses
from typing import ClassVar

import pytest

from pynerd.images.platforms import Platform
from pynerd.snapshots.base import Mount
from pynerd.structs import frozen_record


@frozen_record
class Point:
    """A doc."""

    x: int
    y: int = 0

    def norm1(self) -> int:
        return abs(self.x) + abs(self.y)


def test_behaves_like_a_frozen_dataclass() -> None:
    @dataclasses.dataclass(frozen=True)
    class Twin:
        x: int
        y: int = 0

    for p, twin in ((Point(1), Twin(1)), (Point(1, 2), Twin(1, 2)), (Point(y=3, x=1), Twin(1, 3))):
        assert (p.x, p.y) == (twin.x, twin.y)
        assert repr(p).replace("Point", "Twin") == repr(twin).split(".")[-1]
        assert hash(p) == hash(Point(p.x, p.y))
    assert Point(1, 2) == Point(1, 2) != Point(2, 1)
    assert Point(1) != Twin(1)
    assert Point(1, 2).norm1() == 3
    assert Point.__doc__ == "A doc."
    match Point(4, 5):
        case Point(a, b):
            assert (a, b) == (4, 5)
    with pytest.raises(dataclasses.FrozenInstanceError):
        Point(1).x = 2  # type: ignore[misc]


def test_library_records_keep_their_behaviour() -> None:
    assert str(Platform("linux", "arm64", "v8")) == "linux/arm64/v8"
    assert {Mount("bind", "/a", ("ro",)), Mount("bind", "/a", ("ro",))} == {
        Mount("bind", "/a", ("ro",))
    }


def test_what_it_does_not_do_is_refused() -> None:
    with pytest.raises(TypeError, match="field"):

        @frozen_record
        class WithField:
            x: list[int] = dataclasses.field(default_factory=list)

    with pytest.raises(TypeError, match="ClassVar"):

        @frozen_record
        class WithClassVar:
            x: ClassVar[int] = 1


def test_replace_makes_a_changed_copy() -> None:
    from pynerd.structs import replace

    p = Point(1, 2)
    assert replace(p, y=5) == Point(1, 5)
    assert p == Point(1, 2)
    with pytest.raises(TypeError, match="unexpected keyword argument 'z'"):
        replace(p, z=1)


def test_record_field_factories_and_comparison_opt_outs() -> None:
    from pynerd.structs import record_field, record_fields, replace

    @frozen_record
    class Snap:
        key: str
        labels: dict[str, str] = record_field(default_factory=dict, hash=False)
        origin: str = record_field(default_factory=lambda: "?", compare=False)

    a, b = Snap("k"), Snap("k")
    assert a.labels == {} and a.labels is not b.labels  # one dict per instance
    assert a.origin == "?" and Snap("k", origin="x").origin == "x"
    assert a == Snap("k", origin="elsewhere")  # origin is not compared
    assert a != Snap("k", {"x": "1"})  # labels are compared...
    assert hash(a) == hash(Snap("k", {"x": "1"}))  # ...but not hashed (a dict cannot be)
    assert record_fields(Snap) == ("key", "labels", "origin")
    assert replace(a, key="j") == Snap("j")


def test_the_run_path_imports_no_dataclasses() -> None:
    """``dataclasses`` pulls in ``inspect`` (~5 ms); the records of ``run`` do without."""
    import subprocess
    import sys

    code = (
        "import sys; import pynerd.config, pynerd.containers.lifecycle, pynerd.containers.create,"
        " pynerd.snapshots.overlay, pynerd.images.view, pynerd.network.sandbox;"
        " print('dataclasses' in sys.modules, 'shutil' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]
