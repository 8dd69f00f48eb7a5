"""Restrictions: required sunset, validation, validity period, lifting."""

from __future__ import annotations

import datetime as dt

import pytest

from lexloci.errors import InvalidInput
from lexloci.jurisdictions import Jurisdiction
from lexloci.policy import (
    DEFAULT_VALIDITY,
    AnonymizerPolicy,
    Enforcement,
    Restriction,
    Scope,
    ScopeKind,
    UnknownLocationPolicy,
)
from tests.unit.policy.policy_builders import NOW, restriction


def test_new_restriction_ends_after_ninety_days_by_default() -> None:
    r = Restriction.new(
        id="r1",
        case_ref="case-1",
        jurisdiction=Jurisdiction.of("CN"),
        scope=Scope.meeting("m1"),
        valid_from=NOW,
    )
    assert r.valid_until - r.valid_from == DEFAULT_VALIDITY == dt.timedelta(days=90)
    assert r.version == 1
    assert r.lifted_at is None
    assert r.effects == frozenset({Enforcement.BLOCK_JOIN, Enforcement.REMOVE_LIVE})
    assert r.unknown_location is UnknownLocationPolicy.ALLOW
    assert r.anonymizer is AnonymizerPolicy.IGNORE


def test_policies_offer_no_deny_every_anonymized_connection() -> None:
    # The option would reach people outside the jurisdiction (I1); it must not exist.
    assert {p.value for p in AnonymizerPolicy} == {"ignore", "deny_if_estimate_inside"}


def test_effects_never_end_a_session_or_touch_an_account() -> None:
    assert {e.value for e in Enforcement} == {"block_join", "remove_live"}


@pytest.mark.parametrize(
    "change",
    [
        {"valid_until": NOW},
        {"valid_until": NOW - dt.timedelta(seconds=1)},
        {"effects": frozenset()},
        {"case_ref": ""},
        {"id": ""},
        {"version": 0},
        {"valid_from": NOW.replace(tzinfo=None), "valid_until": NOW + dt.timedelta(days=1)},
        {"lifted_at": NOW.replace(tzinfo=None)},
    ],
)
def test_invalid_restrictions_are_refused(change: dict[str, object]) -> None:
    fields: dict[str, object] = {
        "id": "r1",
        "case_ref": "case-1",
        "jurisdiction": Jurisdiction.of("CN"),
        "scope": Scope.platform(),
        "effects": frozenset({Enforcement.BLOCK_JOIN}),
        "valid_from": NOW,
        "valid_until": NOW + dt.timedelta(days=1),
    }
    fields.update(change)
    with pytest.raises(InvalidInput):
        Restriction(**fields)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("kind", "ref"),
    [
        (ScopeKind.PLATFORM, "m1"),
        (ScopeKind.MEETING, None),
        (ScopeKind.SERIES, ""),
        (ScopeKind.ACCOUNT, None),
    ],
)
def test_scope_reference_must_fit_its_kind(kind: ScopeKind, ref: str | None) -> None:
    with pytest.raises(InvalidInput):
        Scope(kind, ref)


def test_restriction_is_active_from_valid_from_until_just_before_valid_until() -> None:
    r = restriction(valid_from=NOW, valid_until=NOW + dt.timedelta(days=1))
    assert not r.is_active(NOW - dt.timedelta(microseconds=1))
    assert r.is_active(NOW)
    assert r.is_active(NOW + dt.timedelta(days=1) - dt.timedelta(microseconds=1))
    assert not r.is_active(NOW + dt.timedelta(days=1))


def test_lifting_makes_the_next_version_inactive_for_good() -> None:
    r = restriction()
    lifted = r.lift(NOW)
    assert lifted.version == r.version + 1
    assert lifted.lifted_at == NOW
    assert not lifted.is_active(NOW)
    assert not lifted.is_active(NOW - dt.timedelta(hours=1))
    assert r.is_active(NOW)


def test_describe_names_id_version_case_and_jurisdiction() -> None:
    text = restriction("HK,MO", id="r9", case_ref="case-7").describe()
    assert "r9" in text
    assert "v1" in text
    assert "case-7" in text
    assert "HK,MO" in text
