"""The `wasteledger` command: serve, demo, migrate, import-catalogue, users and tokens, rebuild, verify."""

from __future__ import annotations

import os
from pathlib import Path

import typer

app = typer.Typer(help="Solid-waste traceability ledger (固体废物台账 / 电子转移联单).", no_args_is_help=True)


def _settings():  # noqa: ANN202
    from ledger.config import get_settings

    return get_settings()


def _database_fault(error: BaseException, url: str) -> typer.Exit:
    """Say in one line what is wrong with the database (read-only, full, down…) and exit non-zero."""
    from ledger.faults import describe

    typer.echo(f"wasteledger: {describe(error, url)}", err=True)
    return typer.Exit(2)


@app.command()
def migrate() -> None:
    """Create or upgrade the schema (Alembic) and load the bundled catalogue."""
    from sqlalchemy.exc import SQLAlchemyError

    from ledger.db import check_writable
    from ledger.migrate import upgrade

    url = _settings().database_url
    try:
        upgrade(url)
        check_writable(url)
    except (SQLAlchemyError, OSError) as e:
        raise _database_fault(e, url) from None
    typer.echo(f"migrated {url.split('@')[-1]}")


def _listen_on(host: str | None, port: int | None):  # noqa: ANN202
    """Settings with the command line's --host/--port applied. They are passed on as LEDGER_HOST/LEDGER_PORT, so
    the app (imported by uvicorn, in each worker) sees the same address and its default public URL follows it."""
    from ledger.config import get_settings

    if host:
        os.environ["LEDGER_HOST"] = host
    if port:
        os.environ["LEDGER_PORT"] = str(port)
    get_settings.cache_clear()
    return get_settings()


def address_lines(s, listening: bool = True) -> list[str]:  # noqa: ANN001
    """Where the server listens, where its docs are, and what the QR codes open (printed before serving; the
    server itself warns at start-up if phones could not reach that address)."""
    from ledger.config import WILDCARD_HOSTS, default_public_url

    base = s.public_url.rstrip("/")
    here = default_public_url(s.host, s.port)
    listen = (f"every interface, port {s.port} (on this machine: {here})" if s.host.strip() in WILDCARD_HOSTS
              else here)
    lines = [f"Listening on {listen}"] if listening else []
    lines += [f"Pages (log in as a demo user): {base}/login  — weighing station {base}/station, "
              f"regulator console {base}/console",
              f"API docs: {base}/api/v1/docs",
             f"Label QR codes open {base}/s/<digital ID>"
             + ("  (LEDGER_PUBLIC_URL is not set: it follows LEDGER_HOST/LEDGER_PORT)" if s.public_url_is_default
                else "")]
    return lines


@app.command()
def serve(host: str = typer.Option(None, help="listen address (default LEDGER_HOST, 127.0.0.1)"),
          port: int = typer.Option(None, help="port (default LEDGER_PORT, 8000)"), workers: int = 1) -> None:
    """Serve the API and pages (runs migrations first; refuses to start on a database it cannot write)."""
    import uvicorn

    migrate()
    s = _listen_on(host, port)
    for line in address_lines(s):
        typer.echo(line)
    uvicorn.run("api.main:app", host=s.host, port=s.port, workers=workers, proxy_headers=True)


@app.command()
def demo(reset: bool = typer.Option(False, help="delete the SQLite demo database first"),
         serve_after: bool = typer.Option(True, "--serve/--no-serve", help="serve after seeding")) -> None:
    """Seed the demo dataset (idempotent) and serve it."""
    from api.demo import DEMO_PASSWORD, seed
    from ledger.db import session_scope

    s = _settings()
    if reset and s.database_url.startswith("sqlite:///"):
        path = Path(s.database_url.removeprefix("sqlite:///"))
        for suffix in ("", "-wal", "-shm"):
            Path(str(path) + suffix).unlink(missing_ok=True)
    migrate()
    typer.echo("seeding the demo: registry, three years of history, a manifest in every state (about a minute)…")
    with session_scope() as session:
        result = seed(session)
    if result["seeded"]:
        typer.echo(f"demo seeded. Admin bearer token (shown once): {result['admin_token']}")
    else:
        typer.echo("demo data already present (use --reset to start again)")
    typer.echo(f"Users: admin, regulator.sd, regulator.zb, operator.mq, driver.ay, receiver.ly, park.jn …  "
               f"password: {DEMO_PASSWORD}")
    if not serve_after:
        for line in address_lines(s, listening=False):
            typer.echo(line)
    else:
        serve(host=None, port=None, workers=1)


@app.command("import-catalogue")
def import_catalogue(path: Path, edition: str = typer.Option(..., help="edition label, e.g. 2025")) -> None:
    """Replace the hazardous-waste catalogue with a newer edition from CSV."""
    from ledger.db import session_scope
    from ledger.registry.catalogue import import_catalogue as run

    with session_scope() as session:
        n = run(session, path=path, edition=edition)
    typer.echo(f"loaded {n} codes (edition {edition})")


@app.command("create-user")
def create_user(username: str, role: str, display_name: str = typer.Option(None),
                unit_id: int = typer.Option(None), park_id: int = typer.Option(None),
                region_prefix: str = typer.Option(None),
                password: str = typer.Option(None, envvar="WASTELEDGER_PASSWORD")) -> None:
    """Create a user (bootstrap: the first admin is made here)."""
    from ledger.auth import SYSTEM
    from ledger.db import session_scope
    from ledger.users import UserCreate
    from ledger.users import create_user as run

    with session_scope() as session:
        user = run(session, principal=SYSTEM, data=UserCreate(
            username=username, display_name=display_name or username, role=role, unit_id=unit_id, park_id=park_id,
            region_prefix=region_prefix, password=password))
    typer.echo(f"user {user.id} {username} ({role}) created")


@app.command("create-token")
def create_token(username: str, name: str = "cli") -> None:
    """Issue a bearer token for a user and print it (once)."""
    from sqlmodel import select

    from ledger.accounts import User, issue_token
    from ledger.db import session_scope

    with session_scope() as session:
        user = session.exec(select(User).where(User.username == username)).first()
        if user is None:
            raise typer.BadParameter(f"no user {username}")
        typer.echo(issue_token(session, user=user, name=name))


@app.command()
def rebuild(fix: bool = typer.Option(False, "--fix", help="write the journal's balances over the cache"),
            unit_id: int = typer.Option(None, help="only the holdings of this unit")) -> None:
    """Recompute every holding's balances and the period balances from the journal and report any difference."""
    from ledger.batches import rebuild as run
    from ledger.db import session_scope
    from ledger.rollups.rebuild import rebuild as run_periods

    with session_scope() as session:
        diffs = run(session, apply_fixes=fix, unit_id=unit_id)
        period_diffs = run_periods(session, fix=fix, unit_id=unit_id)
    for d in diffs:
        typer.echo(f"batch {d.batch_id}: {d.field} cached={d.cached} journal={d.journal}")
    for pd in period_diffs:
        typer.echo(pd.describe())
    typer.echo(f"{len(diffs)} difference(s){' fixed' if fix and diffs else ''}")
    typer.echo(f"{len(period_diffs)} period-balance difference(s){' fixed' if fix and period_diffs else ''}")
    if (diffs or period_diffs) and not fix:
        raise typer.Exit(1)


@app.command()
def verify(unit_id: int = typer.Option(None, help="one unit; default: every unit")) -> None:
    """Recompute the hash chains and name the first broken link of each broken one."""
    from sqlmodel import select

    from ledger import journal
    from ledger.db import session_scope
    from ledger.registry.models import Unit

    bad = 0
    with session_scope() as session:
        ids = [unit_id] if unit_id else session.exec(select(Unit.id).order_by(Unit.id)).all()
        for uid in ids:
            c = journal.verify(session, unit_id=uid)
            if not c.ok:
                bad += 1
                typer.echo(f"unit {uid}: BROKEN at seq {c.first_bad_seq} (record {c.first_bad_record_id}): {c.reason}")
            else:
                typer.echo(f"unit {uid}: ok, {c.records} records")
    if bad:
        raise typer.Exit(1)


@app.command()
def backup(path: Path = typer.Argument(..., help="the backup file to write (must not exist)")) -> None:
    """Back up the database while the service runs (SQLite online backup API; pg_dump custom format)."""
    from ledger.backup import BackupError
    from ledger.backup import backup as run

    url = _settings().database_url
    try:
        result = run(url, path)
    except BackupError as e:
        typer.echo(f"wasteledger: {e}", err=True)
        raise typer.Exit(2) from None
    typer.echo(f"backed up {url.split('@')[-1]} to {result.path} ({result.kind}, {result.bytes} bytes)")


@app.command()
def restore(path: Path = typer.Argument(..., help="a file written by `wasteledger backup`"),
            force: bool = typer.Option(False, "--force", help="replace the ledger already in the target")) -> None:
    """Restore a backup into LEDGER_DATABASE_URL (an empty database), then verify every chain."""
    from sqlmodel import select

    from ledger import journal
    from ledger.backup import BackupError
    from ledger.backup import restore as run
    from ledger.db import dispose_engines, session_scope
    from ledger.registry.models import Unit

    url = _settings().database_url
    try:
        run(url, path, force=force)
    except BackupError as e:
        typer.echo(f"wasteledger: {e}", err=True)
        raise typer.Exit(2) from None
    dispose_engines()
    broken, records = 0, 0
    with session_scope() as session:
        ids = session.exec(select(Unit.id).order_by(Unit.id)).all()
        for uid in ids:
            c = journal.verify(session, unit_id=uid)
            records += c.records
            if not c.ok:
                broken += 1
                typer.echo(f"unit {uid}: BROKEN at seq {c.first_bad_seq}: {c.reason}")
    typer.echo(f"restored {path} into {url.split('@')[-1]}: {len(ids)} units, {records} records, "
               f"{'every chain verifies' if not broken else f'{broken} broken chain(s)'}")
    if broken:
        raise typer.Exit(1)


def main() -> None:
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    app()


if __name__ == "__main__":
    main()
