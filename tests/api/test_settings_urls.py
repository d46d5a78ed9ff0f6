"""The public URL (what QR codes encode) follows the configured host and port; the server says where it is and
warns when phones could not reach the address its labels encode."""

from __future__ import annotations

import logging
import os
import socket
import subprocess
import sys
import time

import httpx
import pytest
from fastapi.testclient import TestClient

from api.app import create_app, is_loopback_host, public_url_warning
from ledger.config import Settings, default_public_url
from tests.conftest import batch_body, setup_plant

ENV_KEYS = ("LEDGER_PUBLIC_URL", "LEDGER_HOST", "LEDGER_PORT")


@pytest.fixture
def clean_env(monkeypatch, tmp_path):  # noqa: ANN001, ANN201
    """No LEDGER_* address variables and no .env file: only what each test sets."""
    for key in ENV_KEYS:
        monkeypatch.delenv(key, raising=False)
    monkeypatch.chdir(tmp_path)
    return monkeypatch


def test_default_public_url_follows_port(clean_env):
    clean_env.setenv("LEDGER_PORT", "8810")
    s = Settings()
    assert s.public_url == "http://127.0.0.1:8810"
    assert s.public_url_is_default


def test_default_public_url_follows_a_lan_host(clean_env):
    clean_env.setenv("LEDGER_HOST", "192.168.10.5")
    clean_env.setenv("LEDGER_PORT", "9000")
    assert Settings().public_url == "http://192.168.10.5:9000"


def test_explicit_public_url_wins(clean_env):
    clean_env.setenv("LEDGER_PORT", "8810")
    clean_env.setenv("LEDGER_PUBLIC_URL", "https://gufei.example.com")
    s = Settings()
    assert s.public_url == "https://gufei.example.com" and not s.public_url_is_default


def test_an_empty_public_url_counts_as_unset(clean_env):
    clean_env.setenv("LEDGER_PUBLIC_URL", "")
    s = Settings()
    assert s.public_url == "http://127.0.0.1:8000" and s.public_url_is_default


@pytest.mark.parametrize(("host", "port", "url"), [
    ("127.0.0.1", 8000, "http://127.0.0.1:8000"),
    ("0.0.0.0", 8810, "http://127.0.0.1:8810"),  # a wildcard is not an address a URL can name
    ("::", 8810, "http://127.0.0.1:8810"),
    ("fd00::5", 8001, "http://[fd00::5]:8001"),
    ("ledger.plant.local", 80, "http://ledger.plant.local:80"),
])
def test_default_public_url_shapes(host, port, url):
    assert default_public_url(host, port) == url


@pytest.mark.parametrize(("host", "loopback"), [
    ("127.0.0.1", True), ("127.8.9.1", True), ("localhost", True), ("LOCALHOST.", True), ("app.localhost", True),
    ("::1", True), ("[::1]", True), ("0.0.0.0", False), ("192.168.1.20", False), ("ledger.example.com", False),
])
def test_loopback_hosts(host, loopback):
    assert is_loopback_host(host) is loopback


@pytest.mark.parametrize(("host", "public_url", "warns"), [
    ("0.0.0.0", "", True),  # listens everywhere, QR codes open 127.0.0.1
    ("0.0.0.0", "http://localhost:8000", True),
    ("192.168.1.20", "http://127.0.0.1:8000", True),
    ("0.0.0.0", "http://192.168.1.20:8000", False),
    ("127.0.0.1", "", False),  # a loopback server with loopback labels: consistent (a developer's machine)
    ("127.0.0.1", "https://ledger.example.com", False),
    ("192.168.1.20", "", False),  # the default follows the LAN address
])
def test_warning_only_when_phones_could_not_reach_the_labels_address(host, public_url, warns):
    s = Settings(host=host, port=8000, public_url=public_url)
    message = public_url_warning(s)
    assert (message is not None) is warns
    if warns:
        assert "LEDGER_PUBLIC_URL" in message and "loopback" in message and s.public_url in message


def test_server_logs_the_warning_at_start_up(db_url, caplog):
    app = create_app(Settings(env="test", database_url=db_url, host="0.0.0.0", port=8810, public_url=""))
    caplog.set_level(logging.INFO, logger="wasteledger")
    with TestClient(app) as client:
        assert client.get("/api/v1/health").status_code == 200
    records = [r for r in caplog.records if r.name == "wasteledger"]
    warnings = [r.getMessage() for r in records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "http://127.0.0.1:8810" in warnings[0] and "0.0.0.0" in warnings[0]
    assert "Set LEDGER_PUBLIC_URL" in warnings[0]
    assert any("http://127.0.0.1:8810" in r.getMessage() for r in records if r.levelno == logging.INFO)


def test_no_warning_when_the_public_url_is_reachable(db_url, caplog):
    app = create_app(Settings(env="test", database_url=db_url, host="0.0.0.0", public_url="http://10.20.30.40:8000"))
    with TestClient(app) as client:
        assert client.get("/api/v1/health").status_code == 200
    assert not [r for r in caplog.records if r.name == "wasteledger" and r.levelno >= logging.WARNING]


def test_api_urls_use_the_port_the_server_runs_on(db_url, admin, session):
    """label_url / scan_url in API answers come from the default public URL, i.e. the configured port."""
    app = create_app(Settings(env="test", database_url=db_url, host="127.0.0.1", port=8810, public_url=""))
    client = TestClient(app)
    plant = setup_plant(client, admin, session)
    r = client.post("/api/v1/batches", json=batch_body(plant), headers=plant["op"])
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["scan_url"].startswith("http://127.0.0.1:8810/s/")
    assert body["label_url"].startswith("http://127.0.0.1:8810/")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.slow
def test_serve_prints_and_uses_the_configured_port(tmp_path):
    """`wasteledger serve` with LEDGER_PORT set prints that port (not 8000) and answers there."""
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if k not in ENV_KEYS}
    env.update(LEDGER_DATABASE_URL=f"sqlite:///{tmp_path / 'serve.db'}", LEDGER_PORT=str(port), PYTHONUNBUFFERED="1")
    proc = subprocess.Popen([sys.executable, "-m", "api.cli", "serve"], env=env, cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 120
        while True:
            assert proc.poll() is None, proc.stdout.read()
            try:
                if httpx.get(f"http://127.0.0.1:{port}/api/v1/health", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "the server did not come up"
            time.sleep(0.3)
    finally:
        proc.terminate()
        out, _ = proc.communicate(timeout=30)
    assert f"Listening on http://127.0.0.1:{port}" in out, out
    assert f"API docs: http://127.0.0.1:{port}/api/v1/docs" in out
    assert f"Label QR codes open http://127.0.0.1:{port}/s/" in out
    assert f"QR codes on labels and manifests open http://127.0.0.1:{port}" in out  # the server's own log line
    assert ":8000" not in out
    assert "WARNING wasteledger" not in out  # loopback server, loopback labels: nothing to warn about
