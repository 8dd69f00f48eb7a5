"""Who is calling: bearer tokens carry a role (staff), an account (a meeting host) or a
platform (another meeting platform using the decision API, ``lexloci.platforms``).

- Roles: ``admin``, ``intake``, ``reviewer``, ``approver``, ``auditor``. One person (a token's
  ``name``) may hold several roles through several tokens; the two-person rule compares names,
  so whoever took a case in can never approve it, whichever token they use.
- Host tokens name an account and act only on that account's meetings.
- Platform tokens name a registered platform and see only that platform's participants and
  removal orders.
- Tokens are random 256-bit secrets shown once; only their SHA-256 is stored. A token is never
  logged; the audit log records the token's id and name.
"""

from __future__ import annotations

import enum
import hashlib
from dataclasses import dataclass

from lexloci.ids import token_urlsafe

__all__ = ["TOKEN_PREFIX", "Principal", "Role", "hash_token", "new_token"]

TOKEN_PREFIX = "llt_"  # noqa: S105 - a visible prefix so leaked tokens are recognisable, not a secret


class Role(enum.StrEnum):
    ADMIN = "admin"
    INTAKE = "intake"
    REVIEWER = "reviewer"
    APPROVER = "approver"
    AUDITOR = "auditor"


@dataclass(frozen=True, slots=True)
class Principal:
    """An authenticated caller."""

    token_id: str
    name: str
    role: Role | None = None
    account_id: str | None = None
    platform: str | None = None

    @property
    def actor(self) -> str:
        """How the audit log names this caller."""
        if self.role is not None:
            return f"{self.role.value}:{self.name}"
        if self.platform is not None:
            return f"platform:{self.platform}:{self.name}"
        return f"host:{self.account_id}:{self.name}"

    def has(self, *roles: Role) -> bool:
        """Exactly one of these roles; ``admin`` is not a wildcard (separation of duties)."""
        return self.role is not None and self.role in roles


def new_token() -> str:
    return TOKEN_PREFIX + token_urlsafe(32)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()
