"""What the case workflow needs from storage, beyond the meeting service's ``Store``."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, Protocol

from lexloci.audit.tags import AuditTag
from lexloci.cases.model import Attachment, Case
from lexloci.meetings.model import Account, Meeting, MeetingSession, Participant
from lexloci.policy import Restriction, Scope

__all__ = ["AccountSuspension", "CaseStore", "CaseTx"]


@dataclass(frozen=True, slots=True)
class AccountSuspension:
    """An account action taken for a case: only ever against a holder inside the jurisdiction."""

    id: str
    case_id: str
    account_id: str
    valid_from: dt.datetime
    valid_until: dt.datetime
    lifted_at: dt.datetime | None = None
    ended_at: dt.datetime | None = None  # expiry or lift, once recorded

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": "account_suspension",
            "case_ref": self.case_id,
            "account_id": self.account_id,
            "valid_from": self.valid_from.isoformat(),
            "valid_until": self.valid_until.isoformat(),
            "lifted_at": self.lifted_at.isoformat() if self.lifted_at else None,
        }


class CaseTx(Protocol):
    def insert_case(self, case: Case) -> None: ...

    def update_case(self, case: Case) -> None: ...

    def insert_attachment(self, attachment: Attachment, case_id: str, content: bytes) -> bool:
        """Store content by hash; False when the same bytes were already stored."""
        ...

    def save_restriction(self, restriction: Restriction, at: dt.datetime) -> None: ...

    def update_account(self, account: Account) -> None: ...

    def save_suspension(self, suspension: AccountSuspension) -> None: ...

    def save_disclosure(self, case_id: str, package: Mapping[str, Any]) -> None: ...

    def audit(self, tag: AuditTag, actor: str, payload: Mapping[str, Any]) -> int: ...


class CaseStore(Protocol):
    def transaction(self) -> AbstractContextManager[Any]: ...

    def case(self, case_id: str) -> Case | None: ...

    def cases(
        self,
        status: str | None = None,
        country: str | None = None,
        request_type: str | None = None,
    ) -> list[Case]: ...

    def attachment(self, sha256: str) -> tuple[str, bytes] | None: ...

    def account(self, account_id: str) -> Account | None: ...

    def meeting(self, meeting_id: str) -> Meeting | None: ...

    def session(self, session_id: str) -> MeetingSession | None: ...

    def sessions_in_scope(self, scope: Scope) -> list[MeetingSession]: ...

    def participants_of(self, session_ids: Sequence[str]) -> list[Participant]: ...

    def disclosure(self, case_id: str) -> dict[str, Any] | None: ...

    def suspensions(self, case_id: str | None = None) -> list[AccountSuspension]: ...

    def restriction_rows(self) -> list[tuple[Restriction, dt.datetime | None]]: ...
