"""Backups and restores: SQLite's online backup API, pg_dump / pg_restore for PostgreSQL.

A backup is consistent while the service keeps running (SQLite copies a snapshot page by page; pg_dump reads one
snapshot). A restore goes into an empty database (or, with `force`, replaces what is there) and is checked at once:
every chain must verify.
"""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import inspect
from sqlalchemy.engine import make_url

from ledger.db import is_sqlite, make_engine

SQLITE_MAGIC = b"SQLite format 3\x00"
PGDUMP_MAGIC = b"PGDMP"


class BackupError(Exception):
    """A backup or restore that cannot be made, with what to do about it."""


@dataclass(frozen=True)
class Result:
    path: Path
    bytes: int
    kind: str  # "sqlite" | "pg_dump"


def _sqlite_path(url: str) -> Path:
    database = make_url(url).database
    if not database or database == ":memory:":
        raise BackupError("an in-memory SQLite database cannot be backed up or restored")
    return Path(database)


def _libpq(url: str) -> str:
    """The SQLAlchemy URL as a libpq connection URI (what pg_dump and pg_restore take)."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise BackupError(f"{name} is not installed; install the PostgreSQL client matching the server's major "
                          "version (Debian: apt-get install postgresql-client-15)")
    return path


def _run(args: list[str]) -> None:
    done = subprocess.run(args, capture_output=True, text=True)
    if done.returncode != 0:
        raise BackupError(f"{Path(args[0]).name} failed: {done.stderr.strip()[-800:]}")


def backup(url: str, path: Path) -> Result:
    """Write a consistent copy of the database at `url` to `path` (SQLite file, or pg_dump custom format)."""
    path = Path(path)
    if path.exists():
        raise BackupError(f"{path} exists; choose a new file name (a backup never overwrites)")
    path.parent.mkdir(parents=True, exist_ok=True)
    if is_sqlite(url):
        source = _sqlite_path(url)
        if not source.exists():
            raise BackupError(f"there is no database file at {source}")
        src = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
        dst = sqlite3.connect(path)
        try:
            with dst:
                src.backup(dst, pages=1024)
        finally:
            dst.close()
            src.close()
        return Result(path, path.stat().st_size, "sqlite")
    _run([_tool("pg_dump"), "--format=custom", "--no-owner", "--no-privileges", f"--file={path}", _libpq(url)])
    return Result(path, path.stat().st_size, "pg_dump")


def _kind_of(path: Path) -> str:
    head = Path(path).open("rb").read(16)
    if head.startswith(SQLITE_MAGIC):
        return "sqlite"
    if head.startswith(PGDUMP_MAGIC):
        return "pg_dump"
    raise BackupError(f"{path} is neither a SQLite backup nor a pg_dump custom-format file")


def _tables(url: str) -> list[str]:
    engine = make_engine(url)
    try:
        return [t for t in inspect(engine).get_table_names() if t != "wl_write_probe"]
    finally:
        engine.dispose()


def restore(url: str, path: Path, *, force: bool = False) -> Result:
    """Restore the backup at `path` into the database at `url` (empty, unless `force` replaces its content)."""
    path = Path(path)
    if not path.exists():
        raise BackupError(f"there is no backup at {path}")
    kind = _kind_of(path)
    target = "sqlite" if is_sqlite(url) else "pg_dump"
    if kind != target:
        raise BackupError(f"{path} is a {kind} backup; it restores into "
                          f"{'a SQLite file' if kind == 'sqlite' else 'PostgreSQL'}, not into {url.split('@')[-1]}")
    if is_sqlite(url):
        dest = _sqlite_path(url)
        if dest.exists() and _tables(url) and not force:
            raise BackupError(f"{dest} already holds a ledger; restore into a new file, or pass --force to replace it")
        dest.parent.mkdir(parents=True, exist_ok=True)
        src = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        dst = sqlite3.connect(dest)
        try:
            with dst:
                src.backup(dst, pages=1024)
        finally:
            dst.close()
            src.close()
        return Result(dest, dest.stat().st_size, kind)
    existing = _tables(url)
    if existing and not force:
        raise BackupError(f"the target database already has {len(existing)} tables; restore into an empty database "
                          "(createdb), or pass --force to replace them")
    args = [_tool("pg_restore"), "--no-owner", "--no-privileges", "--exit-on-error", "--single-transaction",
            f"--dbname={_libpq(url)}"]
    if existing:
        args += ["--clean", "--if-exists"]
    _run([*args, str(path)])
    return Result(path, path.stat().st_size, kind)
