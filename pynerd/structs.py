"""``frozen_record``: a frozen dataclass without ``dataclass``'s start-up cost.

A CLI pays for every class it defines at every start. ``@dataclass(frozen=True)``
compiles ``__init__``, ``__eq__``, ``__hash__``, ``__repr__``, ``__setattr__`` and
``__delattr__`` with ``exec`` for each class: ~0.4 ms for a class of four fields,
~2.5 ms for the 61 of :class:`pynerd.containers.options.CreateOptions`, and a ``run``
defines about twenty of them. :func:`frozen_record` gives a class generic methods
with the same behaviour and costs ~0.05 ms; type checkers see a frozen dataclass.
Use it for plain frozen value classes on hot paths (:func:`replace` makes a changed
copy, :func:`record_field` gives a field a default factory or leaves it out of
equality and hashing, :func:`record_fields` lists the fields); keep ``dataclass``
where ``dataclasses.field()``, ``asdict``, ordering or ``__post_init__`` are wanted.
Nothing here imports :mod:`dataclasses` (~5 ms with the ``inspect`` it pulls in)
until a frozen instance is actually assigned to.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar, dataclass_transform

_T = TypeVar("_T")


class _RecordField:
    __slots__ = ("compare", "factory", "hash")

    def __init__(
        self, factory: Callable[[], Any] | None, compare: bool, hash: bool | None
    ) -> None:
        self.factory, self.compare = factory, compare
        self.hash = compare if hash is None else hash


def record_field(
    *,
    default_factory: Callable[[], _T] | None = None,
    compare: bool = True,
    hash: bool | None = None,
) -> _T:
    """``dataclasses.field`` for a :func:`frozen_record`: a default made per instance (none:
    the field is required), and whether the field takes part in ``==`` and ``hash``
    (``hash`` follows ``compare`` unless given)."""
    return _RecordField(default_factory, compare, hash)  # type: ignore[return-value]


def record_fields(cls: type) -> tuple[str, ...]:
    """The field names of a :func:`frozen_record` class, in order."""
    return tuple(cls.__annotations__)


def _frozen(message: str) -> Exception:
    from dataclasses import FrozenInstanceError  # only now: the import is not free

    return FrozenInstanceError(message)


@dataclass_transform(frozen_default=True, field_specifiers=(record_field,))
def frozen_record(cls: type[_T]) -> type[_T]:
    """``@dataclass(frozen=True)``'s behaviour: ``__init__`` (positional or keyword
    arguments, class-level defaults or :func:`record_field` factories), equality and
    hash over the fields in order, repr, and ``FrozenInstanceError`` on assignment.
    Fields are the class's own annotations; no inheritance of fields."""
    names = tuple(cls.__annotations__)
    defaults = {n: cls.__dict__[n] for n in names if n in cls.__dict__}
    qualname = cls.__qualname__
    for name in names:
        if str(cls.__annotations__[name]).startswith(("ClassVar", "typing.ClassVar")):
            raise TypeError(f"{qualname}.{name}: frozen_record takes no ClassVar, use dataclass")
        if type(defaults.get(name)).__name__ == "Field":
            raise TypeError(f"{qualname}.{name}: frozen_record takes no field(), use dataclass")
    specs = {n: d for n, d in defaults.items() if isinstance(d, _RecordField)}
    factories = {n: s.factory for n, s in specs.items() if s.factory is not None}
    for name in specs:
        del defaults[name]
        delattr(cls, name)
    compared = tuple(n for n in names if n not in specs or specs[n].compare)
    hashed = tuple(n for n in names if n not in specs or specs[n].hash)

    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        if len(args) > len(names):
            raise TypeError(f"{qualname}() takes at most {len(names)} positional arguments")
        values = dict(defaults)
        values.update(zip(names, args, strict=False))
        for name, factory in factories.items():
            if name not in values and name not in kwargs:
                values[name] = factory()
        for name, value in kwargs.items():
            if name not in names:
                raise TypeError(f"{qualname}() got an unexpected keyword argument {name!r}")
            if name in names[: len(args)]:
                raise TypeError(f"{qualname}() got multiple values for argument {name!r}")
            values[name] = value
        missing = [n for n in names if n not in values]
        if missing:
            raise TypeError(f"{qualname}() missing required arguments: {', '.join(missing)}")
        for name in names:
            object.__setattr__(self, name, values[name])

    def _values(self: Any, fields: tuple[str, ...]) -> tuple[Any, ...]:
        return tuple(getattr(self, n) for n in fields)

    def __eq__(self: Any, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        return bool(_values(self, compared) == _values(other, compared))

    def __hash__(self: Any) -> int:
        return hash(_values(self, hashed))

    def __repr__(self: Any) -> str:
        return f"{qualname}({', '.join(f'{n}={getattr(self, n)!r}' for n in names)})"

    def __setattr__(self: Any, name: str, value: Any) -> None:
        raise _frozen(f"cannot assign to field {name!r}")

    def __delattr__(self: Any, name: str) -> None:
        raise _frozen(f"cannot delete field {name!r}")

    for fn in (__init__, __eq__, __hash__, __repr__, __setattr__, __delattr__):
        fn.__qualname__ = f"{qualname}.{fn.__name__}"
        setattr(cls, fn.__name__, fn)
    setattr(cls, "__match_args__", names)  # noqa: B010 - mypy rejects assigning it directly
    return cls


def replace(obj: _T, **changes: Any) -> _T:
    """``dataclasses.replace`` for a :func:`frozen_record`: a copy with ``changes``."""
    cls = type(obj)
    values = {name: getattr(obj, name) for name in cls.__annotations__}
    values.update(changes)
    return cls(**values)
