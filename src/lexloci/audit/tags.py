"""Audit tags: what happened, as ``source:subject:action``.

Invariants:

- every tag value is three lowercase parts joined by ``:``: the subsystem that writes it
  (``meeting``, ``case``, ``policy``, ``platform``, ``auth``, ``report``), the thing acted on,
  and what happened to it (after warehouse's ``warehouse/events/tags.py``);
- a tag's value never changes once released: old entries stay readable and reports keep
  counting them. A new kind of event gets a new value;
- an entry's payload is a snapshot of the context at the moment it was written (the decision
  with its geo evidence and policy version, the restriction, the case), never a reference to
  be joined later: the transparency report (issue 6) is computed from the log alone, so the
  payload must still say what it meant after the rows it came from have changed.

Every tag is documented in ``docs/audit.md`` (a test keeps the two in step).
"""

from __future__ import annotations

import enum

__all__ = ["AuditTag"]


class AuditTag(enum.StrEnum):
    # -- meeting service: join gate, sweeps, host actions ---------------------------------------
    MEETING_ACCOUNT_CREATED = "meeting:account:created"
    MEETING_MEETING_CREATED = "meeting:meeting:created"
    MEETING_SESSION_STARTED = "meeting:session:started"
    MEETING_SESSION_LOCKED = "meeting:session:locked"
    MEETING_SESSION_UNLOCKED = "meeting:session:unlocked"
    MEETING_SESSION_ENDED = "meeting:session:ended"
    MEETING_PARTICIPANT_JOIN_ALLOWED = "meeting:participant:join_allowed"
    MEETING_PARTICIPANT_JOIN_DENIED = "meeting:participant:join_denied"
    MEETING_PARTICIPANT_LEFT = "meeting:participant:left"
    MEETING_PARTICIPANT_REMOVED = "meeting:participant:removed"
    MEETING_PARTICIPANT_REMOVED_BY_HOST = "meeting:participant:removed_by_host"

    # -- case workflow ---------------------------------------------------------------------------
    CASE_CASE_RECEIVED = "case:case:received"
    CASE_ATTACHMENT_ADDED = "case:attachment:added"
    CASE_CASE_APPROVED = "case:case:approved"
    CASE_CASE_PARTIALLY_APPROVED = "case:case:partially_approved"
    CASE_CASE_REJECTED = "case:case:rejected"
    CASE_CASE_APPEALED = "case:case:appealed"
    CASE_ACTION_CONVERTED = "case:action:converted"
    CASE_ACCOUNT_ACTION_REFUSED = "case:account:action_refused"
    CASE_ACCOUNT_SUSPENDED = "case:account:suspended"
    CASE_ACCOUNT_REINSTATED = "case:account:reinstated"
    CASE_DISCLOSURE_CREATED = "case:disclosure:created"
    CASE_DISCLOSURE_EXPORTED = "case:disclosure:exported"

    # -- restrictions ----------------------------------------------------------------------------
    POLICY_RESTRICTION_ACTIVATED = "policy:restriction:activated"
    POLICY_RESTRICTION_LIFTED = "policy:restriction:lifted"
    POLICY_RESTRICTION_EXPIRED = "policy:restriction:expired"
    POLICY_SWEEP_COMPLETED = "policy:sweep:completed"

    # -- other platforms -------------------------------------------------------------------------
    # Removal orders, many to an entry; each order counts as a removal (lexloci.audit.removals).
    PLATFORM_ORDERS_ISSUED = "platform:orders:issued"

    # -- tokens ----------------------------------------------------------------------------------
    AUTH_TOKEN_CREATED = "auth:token:created"  # noqa: S105 - a tag naming a token event, no secret
    AUTH_TOKEN_REVOKED = "auth:token:revoked"  # noqa: S105 - a tag naming a token event, no secret
    AUTH_TOKEN_USED = "auth:token:used"  # noqa: S105 - a tag naming a token event, no secret
    AUTH_TOKEN_REJECTED = "auth:token:rejected"  # noqa: S105 - a tag naming a token event, no secret

    # -- reports ---------------------------------------------------------------------------------
    REPORT_TRANSPARENCY_GENERATED = "report:transparency:generated"
    REPORT_NOTICE_EXPORTED = "report:notice:exported"

    @property
    def source(self) -> str:
        return self.value.split(":")[0]

    @property
    def subject(self) -> str:
        return self.value.split(":")[1]

    @property
    def action(self) -> str:
        return self.value.split(":")[2]
