"""``frozen_record``: a frozen dataclass without ``dataclass``'s start-up cost.

A CLI pays for every class it defines at every start. ``@dataclass(frozen=True)``
compiles ``__init__``, ``__eq__``, ``__hash__``, ``__repr__``, ``__setattr__`` and
``__delattr__`` with ``exec`` for each class: ~0.4 ms for a class of four fields,
~2.5 ms for the 61 of :class:`pynerd.containers.options.CreateOptions`, and a ``run``
defines about twenty of them. :func:`frozen_record` gives a class generic methods
with the same behaviour and costs ~0.05 ms; type checkers see a frozen dataclass.
Use it for plain frozen value classes on hot paths (:func:`replace` makes a changed
copy); keep ``dataclass`` where ``field()``, ``dataclasses.fields``/``asdict``,
ordering or ``__post_init__`` are wanted.
"""

from __future__ import annotations

from dataclasses import FrozenInstanceError
from typing import Any, TypeVar, dataclass_transform

_T = TypeVar("_T")


@dataclass_transform(frozen_default=True)
def frozen_record(cls: type[_T]) -> type[_T]:
    """``@dataclass(frozen=True)``'s behaviour: ``__init__`` (positional or keyword
    arguments, class-level defaults), equality and hash over the fields in order, repr,
    and ``FrozenInstanceError`` on assignment. Fields are the class's own annotations;
    no ``field()``, no inheritance of fields."""
    names = tuple(cls.__annotations__)
    defaults = {n: cls.__dict__[n] for n in names if n in cls.__dict__}
    qualname = cls.__qualname__
    for name in names:
        if str(cls.__annotations__[name]).startswith(("ClassVar", "typing.ClassVar")):
            raise TypeError(f"{qualname}.{name}: frozen_record takes no ClassVar, use dataclass")
        if type(defaults.get(name)).__name__ == "Field":
            raise TypeError(f"{qualname}.{name}: frozen_record takes no field(), use dataclass")

    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        if len(args) > len(names):
            raise TypeError(f"{qualname}() takes at most {len(names)} positional arguments")
        values = dict(defaults)
        values.update(zip(names, args, strict=False))
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

    def _values(self: Any) -> tuple[Any, ...]:
        return tuple(getattr(self, n) for n in names)

    def __eq__(self: Any, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        return bool(_values(self) == _values(other))

    def __hash__(self: Any) -> int:
        return hash(_values(self))

    def __repr__(self: Any) -> str:
        return f"{qualname}({', '.join(f'{n}={getattr(self, n)!r}' for n in names)})"

    def __setattr__(self: Any, name: str, value: Any) -> None:
        raise FrozenInstanceError(f"cannot assign to field {name!r}")

    def __delattr__(self: Any, name: str) -> None:
        raise FrozenInstanceError(f"cannot delete field {name!r}")

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
