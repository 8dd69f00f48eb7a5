"""``direct_init``: the same frozen dataclass, built by setting its slots directly.

Every class the join path decorates is compared with the dataclass it would be without the
decorator (same fields, same defaults): the same signature, equal objects for any arguments,
the same error for a bad call, and still frozen."""

from __future__ import annotations

import dataclasses
import inspect
import pickle
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lexloci.frozen import direct_init
from lexloci.geo import ClientAddress
from lexloci.meetings.model import Participant
from lexloci.meetings.ports import EncodedEntry, GateRecord
from lexloci.meetings.service import GateResult, JoinRequest, JoinResult, PreparedJoin
from lexloci.policy import LiveParticipant

DECORATED = [
    ClientAddress,
    Participant,
    EncodedEntry,
    GateRecord,
    GateResult,
    JoinRequest,
    JoinResult,
    PreparedJoin,
    LiveParticipant,
]


def plain_twin(cls: type[Any]) -> type[Any]:
    """The same fields as a frozen, slotted dataclass with the generated ``__init__``."""
    fields = [
        (
            f.name,
            Any,
            dataclasses.field(
                default=f.default,
                default_factory=f.default_factory,
                kw_only=f.kw_only,
            ),
        )
        for f in dataclasses.fields(cls)
    ]
    return dataclasses.make_dataclass(cls.__name__, fields, frozen=True, slots=True)


@pytest.mark.parametrize("cls", DECORATED, ids=lambda c: c.__name__)
def test_a_decorated_class_has_the_dataclass_signature(cls: type[Any]) -> None:
    twin = plain_twin(cls)
    ours = inspect.signature(cls.__init__).replace(return_annotation=inspect.Signature.empty)
    theirs = inspect.signature(twin.__init__).replace(return_annotation=inspect.Signature.empty)
    assert [(p.name, p.kind, repr(p.default)) for p in ours.parameters.values()] == [
        (p.name, p.kind, repr(p.default)) for p in theirs.parameters.values()
    ]
    assert cls.__init__.__qualname__ == f"{cls.__qualname__}.__init__"


_VALUES = st.none() | st.text(max_size=5) | st.integers() | st.tuples(st.integers())


@pytest.mark.parametrize("cls", DECORATED, ids=lambda c: c.__name__)
@given(data=st.data())
def test_a_decorated_class_builds_what_the_dataclass_builds(
    cls: type[Any], data: st.DataObject
) -> None:
    twin = plain_twin(cls)
    fields = dataclasses.fields(cls)
    required = [
        f
        for f in fields
        if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
    ]
    optional = [f for f in fields if f not in required]
    args = {f.name: data.draw(_VALUES) for f in required}
    args |= {f.name: data.draw(_VALUES) for f in optional if data.draw(st.booleans())}
    positional = data.draw(st.integers(0, len(required)))
    names = [f.name for f in required[:positional]]
    call_args = [args.pop(name) for name in names]
    ours = cls(*call_args, **args)
    theirs = twin(*call_args, **args)
    assert dataclasses.astuple(ours) == dataclasses.astuple(theirs)
    assert [type(getattr(ours, f.name)) for f in fields] == [
        type(getattr(theirs, f.name)) for f in fields
    ]
    with pytest.raises(dataclasses.FrozenInstanceError):
        ours.__setattr__(fields[0].name, None)


def test_each_instance_gets_its_own_default_from_a_factory() -> None:
    one = Participant("p1", "s1", "A", "joined", None, None)  # type: ignore[arg-type]
    two = Participant("p2", "s1", "B", "joined", None, None)  # type: ignore[arg-type]
    assert one.location == {}
    assert one.location is not two.location
    held = {"territory": "DE"}
    three = Participant("p3", "s", "C", "joined", None, None, held)  # type: ignore[arg-type]
    assert three.location is held


@pytest.mark.parametrize(
    ("args", "kwargs"),
    [
        ((), {}),
        (("a",), {}),
        (("a", "b", "c", "d", "e", "f", "g"), {}),
        (("a", "b"), {"via": "x"}),
        (("a",), {"nope": 1}),
    ],
)
def test_a_bad_call_raises_what_the_dataclass_raises(
    args: tuple[Any, ...], kwargs: dict[str, Any]
) -> None:
    twin = plain_twin(ClientAddress)
    twin.__init__.__qualname__ = "ClientAddress.__init__"
    with pytest.raises(TypeError) as ours:
        ClientAddress(*args, **kwargs)
    with pytest.raises(TypeError) as theirs:
        twin(*args, **kwargs)
    assert str(ours.value) == str(theirs.value)


def test_replace_and_pickle_still_work() -> None:
    client = ClientAddress("5.9.0.1", "peer")
    assert dataclasses.replace(client, via="forwarded") == ClientAddress("5.9.0.1", "forwarded")
    assert pickle.loads(pickle.dumps(client)) == client


def test_only_frozen_slotted_dataclasses_without_post_init_are_taken() -> None:
    @dataclasses.dataclass(frozen=True)
    class NoSlots:
        a: int

    @dataclasses.dataclass(slots=True)
    class NotFrozen:
        a: int

    @dataclasses.dataclass(frozen=True, slots=True)
    class PostInit:
        a: int

        def __post_init__(self) -> None:
            pass

    @dataclasses.dataclass(frozen=True, slots=True)
    class NotInInit:
        a: int
        b: int = dataclasses.field(default=0, init=False)

    @dataclasses.dataclass(frozen=True, slots=True)
    class WithInitVar:
        a: int
        b: dataclasses.InitVar[int] = 0

    for cls in (NoSlots, NotFrozen, PostInit, NotInInit, WithInitVar):
        with pytest.raises(TypeError):
            direct_init(cls)


def test_keyword_only_fields_stay_keyword_only() -> None:
    @direct_init
    @dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
    class Options:
        a: int
        b: str = "b"

    assert Options(a=1) == Options(a=1, b="b")
    with pytest.raises(TypeError):
        Options(1)  # type: ignore[misc]
