"""Domain errors. Services raise these; api/ renders them as {"error": {code, message, details}}."""

from __future__ import annotations

from typing import Any


class LedgerError(Exception):
    """A refusal with a stable machine code, a human message saying what to fix, and an HTTP status."""

    status: int = 400
    code: str = "ledger.error"

    def __init__(self, message: str, *, code: str | None = None, details: Any = None, status: int | None = None):
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        if status is not None:
            self.status = status
        self.details = details if details is not None else {}

    def as_dict(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, "details": self.details}


class InvalidInput(LedgerError):
    """The request is well-formed but a value breaks a rule (422). `field` names what to fix."""

    status = 422
    code = "request.invalid"

    def __init__(self, message: str, *, field: str | None = None, code: str | None = None, details: Any = None):
        merged = dict(details or {})
        if field is not None:
            merged.setdefault("field", field)
        super().__init__(message, code=code, details=merged)


class NotFound(LedgerError):
    status = 404
    code = "not_found"


class Unauthenticated(LedgerError):
    status = 401
    code = "auth.unauthenticated"


class Forbidden(LedgerError):
    status = 403
    code = "auth.forbidden"


class Conflict(LedgerError):
    """The state changed under the caller (a racing signature, a duplicate) or forbids the action (409)."""

    status = 409
    code = "conflict"
