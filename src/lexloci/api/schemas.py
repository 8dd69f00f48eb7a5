"""Request bodies. Unknown fields are refused (422) so that typos never pass silently."""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "AccountIn",
    "AppealIn",
    "AttachmentIn",
    "AuthorityIn",
    "CaseIn",
    "DecisionIn",
    "JoinIn",
    "MeetingIn",
    "RemoveIn",
    "TargetIn",
]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class AccountIn(_Body):
    name: str = Field(min_length=1, max_length=200, description="the host's display name")
    home_country: str = Field(
        min_length=2, max_length=10, description="ISO 3166-1 territory where the holder lives"
    )


class MeetingIn(_Body):
    topic: str = Field(min_length=1, max_length=300)
    host_account_id: str = Field(min_length=1, max_length=40)
    recurrence: str | None = Field(
        None, max_length=100, description="e.g. 'weekly'; a recurring meeting is a series"
    )
    series_of: str | None = Field(
        None, max_length=40, description="put this meeting in the series of an existing meeting"
    )


class JoinIn(_Body):
    display_name: str = Field(min_length=1, max_length=100)
    phone: str | None = Field(
        None, max_length=40, description="dial-in caller number, international format (+852...)"
    )
    user_id: str | None = Field(None, max_length=100)
    language: str | None = Field(
        None, max_length=35, description="notice language (en, de, zh); else Accept-Language"
    )


class RemoveIn(_Body):
    reason: str = Field("removed by the host", max_length=500)


class AuthorityIn(_Body):
    name: str = Field(
        min_length=1, max_length=200, description="e.g. 'Ministry of Public Security'"
    )
    agency: str = Field("", max_length=200)
    country: str = Field(
        min_length=2, max_length=10, description="the requesting country (ISO 3166-1)"
    )
    jurisdiction: list[str] = Field(
        min_length=1,
        max_length=300,
        description="territories and groups the authority speaks for, e.g. ['CN'] or ['EU']",
    )


class TargetIn(_Body):
    kind: str = Field(description="meeting, series, account or invitation_url")
    ref: str = Field(min_length=1, max_length=2000, description="an id, or the invitation URL")


class CaseIn(_Body):
    authority: AuthorityIn
    request_type: str = Field(
        description="user_data, meeting_content, recording, restrict_meeting, restrict_account, "
        "preservation or emergency"
    )
    legal_process: str = Field(
        description="warrant, subpoena, court_order, administrative_order or other"
    )
    legal_basis: str = Field("", max_length=2000, description="the law the request cites")
    targets: list[TargetIn] = Field(min_length=1, max_length=100)
    requested_actions: list[str] = Field(
        default_factory=list,
        max_length=10,
        description="block_participants, end_meetings, suspend_account, disclose_data, "
        "preserve_data (default: what the request type implies)",
    )
    received_at: dt.datetime
    deadline: dt.datetime | None = None
    non_disclosure_until: dt.datetime | None = None
    description: str = Field("", max_length=10_000)


class AttachmentIn(_Body):
    filename: str = Field(min_length=1, max_length=255)
    media_type: str = Field("application/octet-stream", max_length=100)
    content_base64: str = Field(min_length=1, description="the file, base64-encoded")


class DecisionIn(_Body):
    decision: str = Field(description="approve_all, approve_part or reject")
    approve: list[str] = Field(
        default_factory=list, description="for approve_part: action keys from the impact preview"
    )
    rejection_reason: str = Field(
        "declined_by_reviewer",
        description="for rejected actions: outside_jurisdiction, overbroad, no_legal_basis, "
        "not_requesters_authority, improperly_served, declined_by_reviewer",
    )
    valid_until: dt.datetime | None = Field(
        None, description="end of the restrictions (default 90 days)"
    )
    unknown_location: str = Field(
        "allow", description="allow or deny participants with no resolved location"
    )
    note: str = Field("", max_length=5000)


class AppealIn(_Body):
    reason: str = Field(min_length=1, max_length=5000)
