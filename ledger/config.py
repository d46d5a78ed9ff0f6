"""One Settings class; every knob is an environment variable with the LEDGER_ prefix."""

from __future__ import annotations

from functools import lru_cache
from typing import Literal

from pydantic import Field, PrivateAttr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEV_SECRET = "dev-only-secret-change-me"
#: Listen addresses meaning "every interface": a URL cannot point there, so the default public URL uses loopback.
WILDCARD_HOSTS = ("0.0.0.0", "::", "")


def default_public_url(host: str, port: int) -> str:
    """Where the service is reached when LEDGER_PUBLIC_URL is not set: the configured host and port, with a
    wildcard listen address (0.0.0.0, ::) replaced by 127.0.0.1, which only this machine can open."""
    h = host.strip()
    if h in WILDCARD_HOSTS:
        h = "127.0.0.1"
    if ":" in h and not h.startswith("["):
        h = f"[{h}]"  # IPv6 literal
    return f"http://{h}:{port}"


class Settings(BaseSettings):
    """Service configuration (env prefix LEDGER_)."""

    model_config = SettingsConfigDict(env_prefix="LEDGER_", env_file=".env", extra="ignore")

    env: Literal["dev", "test", "prod"] = "dev"
    database_url: str = "sqlite:///./wasteledger.db"
    public_url: str = Field("", description="address phones and browsers reach; empty = http://{host}:{port}")
    secret_key: str = DEV_SECRET
    session_hours: int = 12
    host: str = "127.0.0.1"
    port: int = 8000
    sql_echo: bool = False
    pool_size: int = 10
    async_reads: bool = True  # on PostgreSQL, label scans read on the event loop from their own pool (ledger/aio.py)
    group_commit: bool = True  # single weighings (and 入库) arriving together share one transaction (api/grouping.py)
    max_body_bytes: int = 1_048_576  # JSON request bodies (413 above)
    max_upload_bytes: int = 20 * 1_048_576  # multipart file uploads (imports)
    login_window_seconds: int = 900  # failed logins are counted over this window
    login_max_failures_account: int = 5  # per username within the window, then 429 until the window ends
    login_max_failures_address: int = 20  # per client address within the window

    _public_url_given: bool = PrivateAttr(default=True)

    @model_validator(mode="after")
    def _default_public_url(self) -> Settings:
        if not self.public_url.strip():
            self.public_url = default_public_url(self.host, self.port)
            self._public_url_given = False
        return self

    @property
    def public_url_is_default(self) -> bool:
        """Whether public_url was derived from host and port (LEDGER_PUBLIC_URL not set)."""
        return not self._public_url_given

    @model_validator(mode="after")
    def _refuse_default_secret(self) -> Settings:
        if self.env == "prod" and self.secret_key == DEV_SECRET:
            raise ValueError("LEDGER_SECRET_KEY must be set to a real secret when LEDGER_ENV=prod")
        return self


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings, read once from the environment."""
    return Settings()
