"""API tokens (staff roles, host accounts, platforms): stored as SHA-256 hashes; the secret is
shown once, when created."""

from __future__ import annotations

import datetime as dt
import threading
import time
from typing import Any

import sqlalchemy as sa

from lexloci.audit.tags import AuditTag
from lexloci.auth import Principal, Role, hash_token, new_token
from lexloci.errors import InvalidInput, NotFound
from lexloci.storage.audit import SqlAuditLog
from lexloci.storage.engine import connect_read_only
from lexloci.storage.records import accounts, api_tokens, platforms

__all__ = ["CACHE_SECONDS", "SqlTokenStore"]

#: How long a verified token is trusted without looking at the database again.
CACHE_SECONDS = 5.0


class SqlTokenStore:
    """Create, authenticate and revoke bearer tokens. Verified tokens are cached in memory;
    revoking through this store clears the cache."""

    def __init__(self, engine: sa.Engine, audit_log: SqlAuditLog) -> None:
        self.engine = engine
        self.audit_log = audit_log
        # Verified tokens, with when they were checked: a token revoked by another process
        # (the CLI, another node) stops working within CACHE_SECONDS.
        self._cache: dict[str, tuple[Principal, float]] = {}
        self._lock = threading.Lock()

    def create(
        self,
        name: str,
        at: dt.datetime,
        *,
        role: Role | None = None,
        account_id: str | None = None,
        platform: str | None = None,
        actor: str = "cli",
    ) -> tuple[str, str]:
        """Returns (token id, secret token)."""
        name = " ".join(str(name).split())
        if not name or len(name) > 100:
            raise InvalidInput("a token needs a name of 1 to 100 characters")
        if [role, account_id, platform].count(None) != 2:
            raise InvalidInput("a token carries exactly one of a role, an account or a platform")
        token = new_token()
        token_id = f"tok_{hash_token(token)[:12]}"
        with self.engine.begin() as conn:
            if account_id is not None:
                exists = conn.execute(
                    sa.select(accounts.c.id).where(accounts.c.id == account_id)
                ).first()
                if exists is None:
                    raise NotFound(f"no account {account_id!r}", id=account_id)
            if platform is not None:
                known = conn.execute(
                    sa.select(platforms.c.name).where(platforms.c.name == platform)
                ).first()
                if known is None:
                    raise NotFound(f"no platform {platform!r} is registered", platform=platform)
            conn.execute(
                api_tokens.insert().values(
                    id=token_id,
                    name=name,
                    role=role.value if role else None,
                    account_id=account_id,
                    platform=platform,
                    token_hash=hash_token(token),
                    created_at=at,
                )
            )
            self.audit_log.append(
                conn,
                AuditTag.AUTH_TOKEN_CREATED,
                actor,
                {"token_id": token_id, "name": name, "role": role.value if role else None,
                 "account_id": account_id, "platform": platform},
            )  # fmt: skip
        return token_id, token

    def cached(self, token: str) -> Principal | None:
        """The principal of a token verified here within CACHE_SECONDS (no database read)."""
        hit = self._cache.get(hash_token(token))
        if hit is None or time.monotonic() - hit[1] >= CACHE_SECONDS:
            return None
        return hit[0]

    def authenticate(self, token: str) -> Principal | None:
        digest = hash_token(token)
        cached = self._cache.get(digest)
        if cached is not None and time.monotonic() - cached[1] < CACHE_SECONDS:
            return cached[0]
        with connect_read_only(self.engine) as conn:
            row = conn.execute(
                sa.select(api_tokens)
                .where(api_tokens.c.token_hash == digest)
                .where(api_tokens.c.revoked_at.is_(None))
            ).first()
        if row is None:
            return None
        principal = Principal(
            token_id=row.id,
            name=row.name,
            role=Role(row.role) if row.role else None,
            account_id=row.account_id,
            platform=row.platform,
        )
        with self._lock:
            self._cache[digest] = (principal, time.monotonic())
        return principal

    def revoke(self, token_id: str, at: dt.datetime, actor: str = "cli") -> None:
        with self.engine.begin() as conn:
            result = conn.execute(
                api_tokens.update()
                .where(api_tokens.c.id == token_id)
                .where(api_tokens.c.revoked_at.is_(None))
                .values(revoked_at=at)
            )
            if not result.rowcount:
                raise NotFound(f"no active token {token_id!r}", id=token_id)
            self.audit_log.append(conn, AuditTag.AUTH_TOKEN_REVOKED, actor, {"token_id": token_id})
        with self._lock:
            self._cache = {h: c for h, c in self._cache.items() if c[0].token_id != token_id}

    def list(self) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(api_tokens).order_by(api_tokens.c.created_at)).all()
        return [
            {
                "id": r.id,
                "name": r.name,
                "role": r.role,
                "account_id": r.account_id,
                "platform": r.platform,
                "created_at": r.created_at.isoformat(),
                "revoked_at": r.revoked_at.isoformat() if r.revoked_at else None,
            }
            for r in rows
        ]
