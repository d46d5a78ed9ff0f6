#!/bin/sh
# Migrate, then serve. Extra arguments replace the default command (e.g. `demo --no-serve`).
set -e
wasteledger migrate
if [ "$#" -gt 0 ]; then exec wasteledger "$@"; fi
exec uvicorn api.main:app --host "${LEDGER_HOST:-0.0.0.0}" --port "${LEDGER_PORT:-8000}" --proxy-headers
