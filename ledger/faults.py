"""What a database failure means, in words an operator can act on (disk full, I/O error, read-only, down).

`classify` reads the driver's own error code (SQLite's result code, PostgreSQL's SQLSTATE) rather than guessing
from the text, so the API, the CLI and the tests agree on what happened.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import exc as sa_exc

# SQLite primary result codes (https://sqlite.org/rescode.html); extended codes carry them in the low byte.
SQLITE_BUSY, SQLITE_LOCKED, SQLITE_READONLY, SQLITE_IOERR, SQLITE_CORRUPT, SQLITE_FULL, SQLITE_CANTOPEN = (
    5, 6, 8, 10, 11, 13, 14)


@dataclass(frozen=True)
class DbFault:
    """A classified database failure: HTTP status, stable code, message, and seconds to wait before a retry."""

    kind: str
    status: int
    code: str
    message: str
    retry_after: int | None = None


_UNCONFIRMED = "nothing was confirmed; retry with the same Idempotency-Key (a retry never doubles a write)"

FAULTS = {
    "disk_full": DbFault("disk_full", 503, "database.disk_full",
                         f"the database's disk is full: {_UNCONFIRMED} once an operator has freed space", 60),
    "io_error": DbFault("io_error", 503, "database.io_error",
                        f"the database's storage reported an I/O error (a failing disk or volume): {_UNCONFIRMED} "
                        "once an operator has checked the storage", 60),
    "read_only": DbFault("read_only", 503, "database.read_only",
                         "the database is read-only (file permissions, a read-only volume or a standby server): "
                         f"{_UNCONFIRMED} once it is writable again", 60),
    "corrupt": DbFault("corrupt", 503, "database.corrupt",
                       "the database file is damaged; an operator must restore it from a backup "
                       "(wasteledger restore)", 300),
    "unavailable": DbFault("unavailable", 503, "database.unavailable",
                           f"the database did not answer (down, restarting or unreachable): {_UNCONFIRMED}", 5),
    "concurrent": DbFault("concurrent", 409, "conflict.concurrent", "a concurrent write got there first; retry"),
    "invalid_value": DbFault("invalid_value", 422, "request.out_of_range",
                             "a value does not fit what the database can store; check the lengths and ranges "
                             "given in the API documentation"),
}


def _sqlite_kind(orig: BaseException) -> str | None:
    code = getattr(orig, "sqlite_errorcode", None)
    if code is None:
        text = str(orig).lower()
        for needle, kind in (("disk is full", "disk_full"), ("disk i/o error", "io_error"),
                             ("readonly database", "read_only"), ("is locked", "concurrent"),
                             ("unable to open", "unavailable"), ("malformed", "corrupt")):
            if needle in text:
                return kind
        return None
    return {SQLITE_FULL: "disk_full", SQLITE_IOERR: "io_error", SQLITE_READONLY: "read_only",
            SQLITE_BUSY: "concurrent", SQLITE_LOCKED: "concurrent", SQLITE_CANTOPEN: "unavailable",
            SQLITE_CORRUPT: "corrupt"}.get(code & 0xFF)


def _postgres_kind(orig: BaseException) -> str | None:
    import psycopg

    state = getattr(orig, "sqlstate", None)
    if state is None:  # raised by the driver itself: a value it cannot send, or no connection at all
        if isinstance(orig, psycopg.DataError):
            return "invalid_value"
        return "unavailable" if isinstance(orig, psycopg.OperationalError | psycopg.InterfaceError) else None
    if state == "53100":
        return "disk_full"
    if state.startswith("58"):
        return "io_error"
    if state == "25006":
        return "read_only"
    if state in ("40001", "40P01", "55P03"):
        return "concurrent"
    if state.startswith(("08", "57P", "53")):
        return "unavailable"
    if state.startswith("22"):
        return "invalid_value"
    if state in ("XX001", "XX002"):
        return "corrupt"
    return None


def classify(error: BaseException) -> DbFault | None:
    """The fault behind a database exception (SQLAlchemy-wrapped or the driver's own), or None if it is not one."""
    if isinstance(error, sa_exc.TimeoutError):  # every pooled connection busy for pool_timeout seconds
        return FAULTS["unavailable"]
    orig = getattr(error, "orig", None) or error
    module = type(orig).__module__
    kind = _sqlite_kind(orig) if module.startswith("sqlite3") else _postgres_kind(orig) if (
        module.startswith("psycopg")) else None
    if kind is None and isinstance(error, sa_exc.DBAPIError) and error.connection_invalidated:
        kind = "unavailable"
    return FAULTS[kind] if kind else None


def describe(error: BaseException, url: str) -> str:
    """One line for an operator at start-up: what went wrong with the database at `url` and what to do."""
    where = url.split("@")[-1] if "@" in url else url
    fault = classify(error)
    reason = str(getattr(error, "orig", None) or error).strip().splitlines()[0] if str(error) else type(error).__name__
    if fault is None:
        return f"cannot use the database {where}: {reason}"
    if fault.kind == "unavailable" and url.startswith("sqlite"):
        return (f"cannot open the database file {where} for writing: its directory or volume is read-only, missing "
                f"or not accessible to this user (SQLite also creates -wal and -shm files beside it) ({reason})")
    what = {"disk_full": "its disk is full; free space", "io_error": "its storage reports an I/O error; check the disk",
            "read_only": "it is read-only; make the file and its directory writable by this user (SQLite keeps "
                         "-wal and -shm files beside it)",
            "corrupt": "the file is damaged; restore it with `wasteledger restore`",
            "unavailable": "it does not answer; check that it is running and reachable",
            "concurrent": "another process holds a lock; retry",
            "invalid_value": "a value does not fit"}[fault.kind]
    return f"cannot use the database {where}: {what} ({reason})"
