"""The scope guard: proposals checked against the requesting authority's jurisdiction."""

from __future__ import annotations

import datetime as dt

import pytest

from lexloci.errors import InvalidInput
from lexloci.jurisdictions import Jurisdiction
from lexloci.policy import (
    AccountAction,
    AccountActionProposal,
    Authority,
    DisclosureProposal,
    DisclosureRecord,
    Enforcement,
    RefusalCode,
    RestrictionProposal,
    Scope,
    Verdict,
    review_account_action,
    review_disclosure,
    review_restriction,
)
from tests.unit.policy.policy_builders import GROUPS, NOW, UNKNOWN, at, client, loc, media

CN_AUTHORITY = Authority("Ministry of Public Security (test)", Jurisdiction.of("CN"))
EU_AUTHORITY = Authority("EU body (test)", GROUPS.parse("EU"))
UA_AUTHORITY = Authority("Crimea court (test)", Jurisdiction.of("UA-43"))
BOTH = frozenset(Enforcement)
BASIS = "Article 1 of the test law"


def proposal(
    codes: str = "CN",
    scope: Scope | None = None,
    *,
    basis: str = BASIS,
    targets: frozenset[Scope] = frozenset(),
    requested: str | None = None,
) -> RestrictionProposal:
    return RestrictionProposal(
        jurisdiction=GROUPS.parse(codes),
        scope=scope or Scope.meeting("m1"),
        effects=BOTH,
        legal_basis=basis,
        targets=targets,
        requested_jurisdiction=GROUPS.parse(requested) if requested else None,
    )


# -- restrictions --------------------------------------------------------------------------------


def test_restriction_inside_the_authoritys_jurisdiction_is_allowed() -> None:
    review = review_restriction(
        CN_AUTHORITY, proposal("CN", targets=frozenset({Scope.meeting("m1")}))
    )
    assert review.verdict is Verdict.ALLOWED
    assert review.refusals == ()


@pytest.mark.parametrize("codes", ["HK", "MO", "TW", "CN,HK", "US"])
def test_restriction_reaching_outside_the_authoritys_jurisdiction_is_refused(codes: str) -> None:
    review = review_restriction(CN_AUTHORITY, proposal(codes))
    assert review.verdict is Verdict.REFUSED
    assert review.codes == (RefusalCode.OUTSIDE_JURISDICTION,)
    assert "CN" in review.refusals[0].message


def test_subdivision_authority_cannot_restrict_the_whole_country() -> None:
    assert review_restriction(UA_AUTHORITY, proposal("UA")).codes == (
        RefusalCode.OUTSIDE_JURISDICTION,
    )
    assert review_restriction(UA_AUTHORITY, proposal("UA-43")).verdict is Verdict.ALLOWED


def test_country_authority_may_restrict_one_of_its_subdivisions() -> None:
    authority = Authority("UA (test)", Jurisdiction.of("UA"))
    assert review_restriction(authority, proposal("UA-43")).verdict is Verdict.ALLOWED


@pytest.mark.parametrize("basis", ["", "   "])
def test_restriction_without_legal_basis_is_refused(basis: str) -> None:
    review = review_restriction(CN_AUTHORITY, proposal(basis=basis))
    assert review.codes == (RefusalCode.NO_LEGAL_BASIS,)


def test_jurisdiction_wider_than_the_request_needs_is_overbroad() -> None:
    review = review_restriction(EU_AUTHORITY, proposal("EU", requested="DE"))
    assert review.codes == (RefusalCode.OVERBROAD,)
    assert "FR" in review.refusals[0].message
    assert review_restriction(EU_AUTHORITY, proposal("DE", requested="DE")).verdict is (
        Verdict.ALLOWED
    )


@pytest.mark.parametrize(
    "scope", [Scope.account("host-1"), Scope.platform(), Scope.series("s1"), Scope.meeting("m2")]
)
def test_scope_beyond_the_named_targets_is_overbroad(scope: Scope) -> None:
    review = review_restriction(
        CN_AUTHORITY, proposal("CN", scope, targets=frozenset({Scope.meeting("m1")}))
    )
    assert review.codes == (RefusalCode.OVERBROAD,)


def test_platform_wide_restriction_naming_no_target_for_foreign_territory_is_overbroad() -> None:
    review = review_restriction(CN_AUTHORITY, proposal("CN,HK", Scope.platform()))
    assert review.codes == (RefusalCode.OUTSIDE_JURISDICTION, RefusalCode.OVERBROAD)


def test_platform_wide_restriction_for_the_authoritys_own_territory_is_allowed() -> None:
    assert review_restriction(CN_AUTHORITY, proposal("CN", Scope.platform())).verdict is (
        Verdict.ALLOWED
    )


def test_every_refusal_is_listed_together() -> None:
    review = review_restriction(
        CN_AUTHORITY,
        proposal("CN,TW", Scope.platform(), basis="", targets=frozenset({Scope.meeting("m1")})),
    )
    assert review.verdict is Verdict.REFUSED
    assert review.codes == (
        RefusalCode.OUTSIDE_JURISDICTION,
        RefusalCode.NO_LEGAL_BASIS,
        RefusalCode.OVERBROAD,
    )


def test_proposal_without_effects_is_invalid() -> None:
    with pytest.raises(InvalidInput):
        RestrictionProposal(Jurisdiction.of("CN"), Scope.platform(), frozenset(), BASIS)


# -- account actions -----------------------------------------------------------------------------


def account(home: str, basis: str = BASIS) -> AccountActionProposal:
    return AccountActionProposal("acct-1", home, AccountAction.SUSPEND, basis)


def test_account_of_a_holder_inside_may_be_actioned() -> None:
    assert review_account_action(CN_AUTHORITY, account("CN")).verdict is Verdict.ALLOWED


@pytest.mark.parametrize("home", ["HK", "US", "TW", "MO"])
def test_account_of_a_holder_abroad_is_refused(home: str) -> None:
    # June 2020: hosts in HK and the USA were suspended at mainland China's request.
    review = review_account_action(CN_AUTHORITY, account(home))
    assert review.verdict is Verdict.REFUSED
    assert review.codes == (RefusalCode.OUTSIDE_JURISDICTION,)
    assert review.refusals[0].subject == "acct-1"


def test_account_with_subdivision_home_is_placed_in_its_country() -> None:
    authority = Authority("UA (test)", Jurisdiction.of("UA"))
    assert review_account_action(authority, account("UA-43")).verdict is Verdict.ALLOWED
    assert review_account_action(UA_AUTHORITY, account("UA-14")).codes == (
        RefusalCode.OUTSIDE_JURISDICTION,
    )


def test_account_home_only_partly_covered_is_refused_as_uncertain() -> None:
    assert review_account_action(UA_AUTHORITY, account("UA")).codes == (
        RefusalCode.LOCATION_UNCERTAIN,
    )


def test_account_action_without_legal_basis_is_refused() -> None:
    assert review_account_action(CN_AUTHORITY, account("CN", basis="")).codes == (
        RefusalCode.NO_LEGAL_BASIS,
    )


# -- disclosure ----------------------------------------------------------------------------------


def record(rid: str, where: object) -> DisclosureRecord:
    return DisclosureRecord(rid, where, NOW - dt.timedelta(days=3))  # type: ignore[arg-type]


def test_disclosure_includes_only_records_located_inside_at_the_time() -> None:
    records = (
        record("in", at("CN")),
        record("media-in", loc(client("US"), media("CN"))),
        record("hk", at("HK")),
        record("unknown", UNKNOWN),
        record("split", at("CN", "HK")),
    )
    review = review_disclosure(CN_AUTHORITY, DisclosureProposal(records, BASIS))
    assert review.verdict is Verdict.ALLOWED
    assert [r.record_id for r in review.allowed] == ["in", "media-in"]
    assert [(r.subject, r.code) for r in review.refusals] == [
        ("hk", RefusalCode.OUTSIDE_JURISDICTION),
        ("unknown", RefusalCode.LOCATION_UNCERTAIN),
        ("split", RefusalCode.LOCATION_UNCERTAIN),
    ]


def test_disclosure_with_nothing_inside_is_refused() -> None:
    review = review_disclosure(
        CN_AUTHORITY, DisclosureProposal((record("hk", at("HK")), record("tw", at("TW"))), BASIS)
    )
    assert review.verdict is Verdict.REFUSED
    assert review.allowed == ()
    assert review.codes == (RefusalCode.OUTSIDE_JURISDICTION,) * 2


def test_disclosure_without_legal_basis_discloses_nothing() -> None:
    review = review_disclosure(CN_AUTHORITY, DisclosureProposal((record("in", at("CN")),), ""))
    assert review.verdict is Verdict.REFUSED
    assert review.allowed == ()
    assert review.codes == (RefusalCode.NO_LEGAL_BASIS,)


def test_disclosure_for_a_group_authority_uses_the_group_members() -> None:
    records = (record("de", at("DE")), record("ch", at("CH")))
    review = review_disclosure(EU_AUTHORITY, DisclosureProposal(records, BASIS))
    assert [r.record_id for r in review.allowed] == ["de"]
    assert review.codes == (RefusalCode.OUTSIDE_JURISDICTION,)
