"""Frozen dataclasses that are cheap to build: ``direct_init``.

A frozen dataclass's ``__init__`` sets each field with ``object.__setattr__(self, name,
value)``, which looks the attribute up by name on every call: for a value built once per join
(a participant has 14 fields) that is most of the cost of building it, about 0.15 µs a field
on CPython 3.11. With ``slots=True`` each field is a slot whose descriptor can set it
directly; ``direct_init`` gives such a class an ``__init__`` that does exactly that, about
three times faster.

Invariants:

- **The same class.** Only ``__init__`` is replaced. Fields stay read-only (assignment still
  raises ``FrozenInstanceError``); equality, hashing, ``repr``, ``replace``, pickling and the
  type checker's view (the ``@dataclass`` below the decorator) are the dataclass's own.
- **The same signature.** Parameter names, order, kinds and defaults are the dataclass's; a
  ``default_factory`` is called for each instance built without that argument. The new
  ``__init__`` is checked against the generated one when the class is decorated (a mismatch
  raises ``TypeError`` at import), and carries its qualified name, so a bad call raises the
  same ``TypeError`` with the same message.
- **Only what it can do exactly.** A class that is not a frozen, slotted dataclass, or has a
  ``__post_init__``, an ``InitVar`` or a field with ``init=False``, is refused (``TypeError``).
"""

from __future__ import annotations

import dataclasses
import inspect
import types
from typing import Any, TypeVar

__all__ = ["direct_init"]

T = TypeVar("T")


class _Factory:
    """The default of a parameter whose field has a ``default_factory``."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "<factory>"  # as dataclasses shows it in the signature


_FACTORY = _Factory()


def direct_init(cls: type[T]) -> type[T]:
    """Give the frozen, slotted dataclass ``cls`` an ``__init__`` that sets its slots directly
    (see the module docstring). Use it above ``@dataclass(frozen=True, slots=True)``."""
    params = getattr(cls, "__dataclass_params__", None)
    if params is None or not params.frozen or "__slots__" not in cls.__dict__:
        raise TypeError(f"{cls.__qualname__}: direct_init needs a frozen dataclass with slots")
    if hasattr(cls, "__post_init__"):
        raise TypeError(f"{cls.__qualname__}: direct_init does not run __post_init__")
    generated = cls.__dict__["__init__"]
    fields = dataclasses.fields(cls)  # type: ignore[arg-type]  # a dataclass: checked above
    namespace: dict[str, Any] = {"_FACTORY": _FACTORY}
    positional: list[str] = []
    keyword: list[str] = []
    body: list[str] = []
    for index, f in enumerate(fields):
        if not f.init:
            raise TypeError(f"{cls.__qualname__}.{f.name}: direct_init needs init=True fields")
        slot = getattr(cls, f.name)
        if not isinstance(slot, types.MemberDescriptorType):
            raise TypeError(f"{cls.__qualname__}.{f.name}: not a slot")
        namespace[f"_set{index}"] = slot.__set__
        if f.default is not dataclasses.MISSING:
            namespace[f"_default{index}"] = f.default
            param = f"{f.name}=_default{index}"
            value = f.name
        elif f.default_factory is not dataclasses.MISSING:
            namespace[f"_factory{index}"] = f.default_factory
            param = f"{f.name}=_FACTORY"
            value = f"_factory{index}() if {f.name} is _FACTORY else {f.name}"
        else:
            param, value = f.name, f.name
        (keyword if f.kw_only else positional).append(param)
        body.append(f"    _set{index}(self, {value})")
    signature = ", ".join(["self", *positional, *(["*", *keyword] if keyword else [])])
    source = f"def __init__({signature}):\n" + ("\n".join(body) or "    pass") + "\n"
    exec(source, namespace)  # noqa: S102 - source built above from the class's field names only
    init = namespace["__init__"]
    init.__qualname__ = f"{cls.__qualname__}.__init__"
    init.__module__ = cls.__module__
    init.__doc__ = generated.__doc__
    init.__annotations__ = dict(generated.__annotations__)
    if _shape(init) != _shape(generated):
        raise TypeError(
            f"{cls.__qualname__}: direct_init made {inspect.signature(init)}, "
            f"the dataclass {inspect.signature(generated)}"
        )
    cls.__init__ = init  # type: ignore[method-assign]  # the same signature, checked above
    return cls


def _shape(function: Any) -> list[tuple[str, Any, object]]:
    """Each parameter's name, kind and default (any factory's default as one marker)."""
    out = []
    for p in inspect.signature(function).parameters.values():
        default = p.default
        if default is _FACTORY or repr(default) == "<factory>":
            default = _FACTORY
        out.append((p.name, p.kind, default))
    return out
