"""The lexloci exception tree. Every error carries a stable, machine-readable ``code``.

    LexlociError                       code "error"
    ├── InvalidInput                   code "invalid_input"      (HTTP 422, CLI exit 2)
    │   ├── InvalidTerritory           code "invalid_territory"
    │   ├── InvalidAddress             code "invalid_address"
    │   └── InvalidPhoneNumber         code "invalid_phone_number"
    ├── NotFound                       code "not_found"          (HTTP 404)
    ├── Conflict                       code "conflict"           (HTTP 409)
    ├── Misdirected                    code "wrong_node"         (HTTP 421, with the node's URL)
    ├── Unavailable                    code "node_not_ready"     (HTTP 503)
    ├── Unauthenticated                code "unauthenticated"    (HTTP 401)
    ├── Forbidden                      code "forbidden"          (HTTP 403)
    │   ├── GeoRestricted              code "geo_restricted"     (a refused join, with the notice)
    │   └── ScopeRefused               code "outside_jurisdiction", ... (the scope guard's reason)
    └── ConfigurationError             code "configuration_error" (refuse to start)

The HTTP layer maps each class to one status and renders ``{"error": {"code", "message",
**details}}``; the CLI prints ``error: <message>`` and exits with status 2 for InvalidInput.
The domain raises these and nothing framework-specific.
"""

from __future__ import annotations

from typing import Any, ClassVar

__all__ = [
    "ConfigurationError",
    "Conflict",
    "Forbidden",
    "GeoRestricted",
    "InvalidAddress",
    "InvalidInput",
    "InvalidPhoneNumber",
    "InvalidTerritory",
    "LexlociError",
    "Misdirected",
    "NotFound",
    "ScopeRefused",
    "Unauthenticated",
    "Unavailable",
]


class LexlociError(Exception):
    """Base of every error lexloci raises on purpose."""

    code: ClassVar[str] = "error"

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details = details

    def as_dict(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, **self.details}


class InvalidInput(LexlociError):
    code: ClassVar[str] = "invalid_input"


class InvalidTerritory(InvalidInput):
    code: ClassVar[str] = "invalid_territory"


class InvalidAddress(InvalidInput):
    code: ClassVar[str] = "invalid_address"


class InvalidPhoneNumber(InvalidInput):
    code: ClassVar[str] = "invalid_phone_number"


class NotFound(LexlociError):
    code: ClassVar[str] = "not_found"


class Conflict(LexlociError):
    code: ClassVar[str] = "conflict"


class ConfigurationError(LexlociError):
    code: ClassVar[str] = "configuration_error"


class Misdirected(LexlociError):
    """The session lives on another meeting node; ``details`` name it and its URL."""

    code: ClassVar[str] = "wrong_node"


class Unavailable(LexlociError):
    code: ClassVar[str] = "node_not_ready"


class Unauthenticated(LexlociError):
    code: ClassVar[str] = "unauthenticated"


class Forbidden(LexlociError):
    code: ClassVar[str] = "forbidden"


class GeoRestricted(Forbidden):
    """A join the policy refused; ``details`` carry the notice and the decision."""

    code: ClassVar[str] = "geo_restricted"


class ScopeRefused(Forbidden):
    """An action the scope guard refused; ``code`` is set per instance from its reason."""

    code: ClassVar[str] = "outside_jurisdiction"

    def __init__(self, message: str, reason_code: str, **details: Any) -> None:
        super().__init__(message, **details)
        self.reason_code = reason_code

    def as_dict(self) -> dict[str, Any]:
        return {"code": self.reason_code, "message": self.message, **self.details}
