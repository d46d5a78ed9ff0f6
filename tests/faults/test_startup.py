"""A database the service cannot write ends `wasteledger serve` with one clear line and a non-zero exit."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.faults.helpers import ROOT, free_port, is_root, small_filesystem

pytestmark = pytest.mark.faults


def serve(url: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "LEDGER_DATABASE_URL": url, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "api.cli", "serve", "--port", str(free_port())], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)


def migrate(url: str) -> None:
    env = {**os.environ, "LEDGER_DATABASE_URL": url, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-m", "api.cli", "migrate"], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr


def assert_one_clear_line(done: subprocess.CompletedProcess, *words: str) -> None:
    assert done.returncode != 0
    assert "Traceback" not in done.stderr, done.stderr[-2000:]
    lines = [ln for ln in done.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("wasteledger: cannot"), done.stderr
    for w in words:
        assert w in lines[0], lines[0]


def test_a_read_only_sqlite_file_ends_serve_with_one_line(tmp_path):
    with small_filesystem(8192) as fs:
        if fs is not None:  # root ignores file modes: make the whole volume read-only
            url = f"sqlite:///{fs / 'ledger.db'}"
            migrate(url)
            subprocess.run(["mount", "-o", "remount,ro", str(fs)], check=True)
        elif is_root():
            pytest.skip("root without mount: file modes do not stop root")
        else:
            url = f"sqlite:///{tmp_path / 'ledger.db'}"
            migrate(url)
            (tmp_path / "ledger.db").chmod(0o444)
            tmp_path.chmod(0o555)
        done = serve(url)
        if fs is None:
            tmp_path.chmod(0o755)
    assert_one_clear_line(done, "read-only")


def test_a_missing_directory_ends_serve_with_one_line(tmp_path):
    done = serve(f"sqlite:///{tmp_path / 'no' / 'such' / 'dir' / 'ledger.db'}")
    assert_one_clear_line(done, "cannot open the database file")


def test_an_unreachable_postgresql_ends_serve_with_one_line():
    done = serve(f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/nothing")
    assert_one_clear_line(done, "does not answer")
