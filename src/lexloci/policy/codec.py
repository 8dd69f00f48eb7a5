"""Restrictions as JSON: how they are stored, audited and sent to other nodes.

The encoding is lossless (``restriction_from_dict(restriction_to_dict(r)) == r``); a test keeps it
so. Jurisdictions are stored as their expanded territory codes plus the group names used, so a
restriction means tomorrow exactly what it meant when it was approved, even if a configured group
changes.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from lexloci.errors import InvalidInput
from lexloci.jurisdictions import Jurisdiction
from lexloci.policy.restriction import (
    AnonymizerPolicy,
    Enforcement,
    Restriction,
    Scope,
    ScopeKind,
    UnknownLocationPolicy,
)

__all__ = ["restriction_from_dict", "restriction_to_dict"]


def restriction_to_dict(r: Restriction) -> dict[str, Any]:
    return {
        "id": r.id,
        "version": r.version,
        "case_ref": r.case_ref,
        "jurisdiction": {
            "territories": r.jurisdiction.codes(),
            "groups": list(r.jurisdiction.groups),
        },
        "scope": {"kind": r.scope.kind.value, "ref": r.scope.ref},
        "effects": sorted(e.value for e in r.effects),
        "valid_from": r.valid_from.isoformat(),
        "valid_until": r.valid_until.isoformat(),
        "unknown_location": r.unknown_location.value,
        "anonymizer": r.anonymizer.value,
        "lifted_at": r.lifted_at.isoformat() if r.lifted_at else None,
    }


def restriction_from_dict(data: dict[str, Any]) -> Restriction:
    try:
        jurisdiction = Jurisdiction(
            frozenset(data["jurisdiction"]["territories"]),
            tuple(data["jurisdiction"].get("groups", ())),
        )
        lifted = data.get("lifted_at")
        return Restriction(
            id=data["id"],
            case_ref=data["case_ref"],
            jurisdiction=jurisdiction,
            scope=Scope(ScopeKind(data["scope"]["kind"]), data["scope"].get("ref")),
            effects=frozenset(Enforcement(e) for e in data["effects"]),
            valid_from=dt.datetime.fromisoformat(data["valid_from"]),
            valid_until=dt.datetime.fromisoformat(data["valid_until"]),
            unknown_location=UnknownLocationPolicy(data.get("unknown_location", "allow")),
            anonymizer=AnonymizerPolicy(data.get("anonymizer", "ignore")),
            version=int(data["version"]),
            lifted_at=dt.datetime.fromisoformat(lifted) if lifted else None,
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise InvalidInput(f"not a stored restriction: {exc}") from None
