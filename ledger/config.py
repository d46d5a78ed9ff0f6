"""One Settings class; every knob is an environment variable with the LEDGER_ prefix."""

from __future__ import annotations

from functools import lru_cache
from typing import Literal

from pydantic import model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEV_SECRET = "dev-only-secret-change-me"


class Settings(BaseSettings):
    """Service configuration (env prefix LEDGER_)."""

    model_config = SettingsConfigDict(env_prefix="LEDGER_", env_file=".env", extra="ignore")

    env: Literal["dev", "test", "prod"] = "dev"
    database_url: str = "sqlite:///./wasteledger.db"
    public_url: str = "http://127.0.0.1:8000"
    secret_key: str = DEV_SECRET
    session_hours: int = 12
    host: str = "127.0.0.1"
    port: int = 8000
    sql_echo: bool = False
    pool_size: int = 10
    max_body_bytes: int = 1_048_576  # JSON request bodies (413 above)
    max_upload_bytes: int = 20 * 1_048_576  # multipart file uploads (imports)
    login_window_seconds: int = 900  # failed logins are counted over this window
    login_max_failures_account: int = 5  # per username within the window, then 429 until the window ends
    login_max_failures_address: int = 20  # per client address within the window

    @model_validator(mode="after")
    def _refuse_default_secret(self) -> Settings:
        if self.env == "prod" and self.secret_key == DEV_SECRET:
            raise ValueError("LEDGER_SECRET_KEY must be set to a real secret when LEDGER_ENV=prod")
        return self


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings, read once from the environment."""
    return Settings()
