"""Per-request public notices: redacted, from the log alone, withheld while a non-disclosure
order is in force."""

from __future__ import annotations

import json
import re

import pytest

from lexloci.audit import AuditTag
from lexloci.errors import NotFound
from lexloci.transparency import PublicNotice, public_notice
from tests.unit.transparency.scripted import Script, at


def notice(script: Script, letter: str, now: object = None) -> PublicNotice:
    log = script.container.audit_log
    return public_notice(
        log,
        script.cases[letter],
        checkpoint=log.checkpoint(),
        now=now or script.clock.now(),  # type: ignore[arg-type]
    )


def test_a_notice_is_withheld_while_its_non_disclosure_order_is_in_force(script: Script) -> None:
    during = notice(script, "E", at(2027, 2, 28))
    assert during.withheld
    assert set(during.document) == {
        "schema",
        "notice_id",
        "status",
        "reason",
        "withheld_until",
        "checkpoint",
        "generated_at",
    }
    assert during.document["status"] == "withheld"
    assert during.document["withheld_until"] == "2027-03-01T12:00:00.000000Z"
    text = json.dumps(during.document)
    for covered in ("Bundeskriminalamt", "DE", "EU", "series", "court_order"):
        assert covered not in text


def test_the_full_notice_is_given_once_the_order_has_ended(script: Script) -> None:
    after = notice(script, "E", at(2027, 3, 1))
    assert not after.withheld
    document = after.document
    assert document["status"] == "published"
    assert document["sender"] == {
        "kind": "government_authority",
        "name": "Bundeskriminalamt",
        "agency": "Cybercrime unit",
        "country_code": "DE",
    }
    assert document["non_disclosure_order"] == {
        "until": "2027-03-01T12:00:00.000000Z",
        "delayed_this_notice": True,
    }
    jurisdictions = document["jurisdictions"]
    assert isinstance(jurisdictions, dict)
    assert jurisdictions["groups"] == ["EU"]
    assert document["targets"] == [
        {"kind": "series", "given_as": "identifier", "identifier": "withheld"}
    ]
    assert document["action_taken"] == "Yes"
    enforcement = document["enforcement"]
    assert isinstance(enforcement, dict)
    assert enforcement["participants_blocked"] == {"total": 1, "by_territory": {"DE": 1}}


def test_a_published_notice_names_no_meeting_session_account_or_url(script: Script) -> None:
    secrets = [
        *script.meetings.values(),
        *script.sessions.values(),
        *script.accounts.values(),
        *script.restrictions.values(),
        "https://",
        "pwd=",
        "s3cret",
    ]
    for letter in "ABCDFGHIJK":
        text = json.dumps(notice(script, letter, at(2027, 6, 1)).document)
        leaked = [s for s in secrets if s in text]
        assert leaked == [], letter
        assert re.search(r"\b(par|sus|res|mtg|ses|acc)_[0-9a-f]{16}\b", text) is None, letter


def test_a_target_given_as_an_invitation_url_is_described_not_quoted(script: Script) -> None:
    document = notice(script, "I").document
    assert document["targets"] == [
        {"kind": "meeting", "given_as": "invitation_url", "identifier": "withheld"}
    ]
    assert document["action_taken"] == "Pending"
    decision = document["decision"]
    assert isinstance(decision, dict)
    assert decision["status"] == "pending"


def test_a_refused_account_action_says_where_the_holder_is_based(script: Script) -> None:
    document = notice(script, "B").document
    assert document["targets"] == [
        {
            "kind": "account",
            "given_as": "identifier",
            "identifier": "withheld",
            "holder_territory": "US",
        }
    ]
    assert document["action_taken"] == "Partial"
    assert document["decision"] == {
        "status": "partially_approved",
        "outcome": "partially_approved",
        "date": "2026-07-10",
        "actions": [
            {
                "action": "suspend_account",
                "target": 0,
                "outcome": "partially",
                "reasons": ["outside_jurisdiction"],
            }
        ],
        "appealed_on": None,
    }
    enforcement = document["enforcement"]
    assert isinstance(enforcement, dict)
    assert enforcement["account_actions_refused"] == 1
    assert enforcement["accounts_suspended"] == 0
    assert enforcement["restrictions"] == {"activated": 1, "lifted": 1, "expired": 0}


def test_a_notice_counts_what_enforcement_did_for_the_case(script: Script) -> None:
    document = notice(script, "A").document
    enforcement = document["enforcement"]
    assert isinstance(enforcement, dict)
    assert enforcement["participants_blocked"] == {"total": 3, "by_territory": {"CN": 3}}
    assert enforcement["participants_removed"] == {"total": 2, "by_territory": {"CN": 2}}
    assert enforcement["restrictions"] == {"activated": 1, "lifted": 0, "expired": 1}
    assert document["date_received"] == "2026-06-19"  # as the intake stated it
    assert document["date_recorded"] == "2026-06-20"  # when the log recorded the intake


def test_an_appealed_case_says_so(script: Script) -> None:
    document = notice(script, "C").document
    decision = document["decision"]
    assert isinstance(decision, dict)
    assert (decision["status"], decision["outcome"]) == ("appealed", "approved")
    assert decision["appealed_on"] == "2026-09-01"
    enforcement = document["enforcement"]
    assert isinstance(enforcement, dict)
    assert (enforcement["accounts_suspended"], enforcement["accounts_reinstated"]) == (1, 1)


def test_a_disclosure_is_counted_in_its_notice(script: Script) -> None:
    enforcement = notice(script, "D").document["enforcement"]
    assert isinstance(enforcement, dict)
    assert enforcement["disclosure"] == {"records": 2, "accounts": 1}


def test_a_notice_cites_the_checkpoint_it_was_computed_at(script: Script) -> None:
    log = script.container.audit_log
    document = notice(script, "F").document
    assert document["checkpoint"] == log.checkpoint().to_dict()
    assert document["recipient"] == {"kind": "platform", "name": "lexloci"}


def test_a_case_the_log_does_not_hold_has_no_notice(script: Script) -> None:
    log = script.container.audit_log
    with pytest.raises(NotFound, match="no case"):
        public_notice(log, "case_0000000000000000", checkpoint=log.checkpoint(), now=at(2027, 1, 1))


def test_a_case_recorded_after_the_checkpoint_has_no_notice_at_it(script: Script) -> None:
    log = script.container.audit_log
    k = next(
        e
        for e in log.iter_entries(tags=[AuditTag.CASE_CASE_RECEIVED.value])
        if e.payload["case_id"] == script.cases["K"]
    )
    earlier = type(log.checkpoint())(log.origin, k.seq - 1, k.prev_hash)
    with pytest.raises(NotFound):
        public_notice(log, script.cases["K"], checkpoint=earlier, now=at(2027, 1, 5))
