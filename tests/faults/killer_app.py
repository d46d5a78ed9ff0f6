"""The real app, plus two test-only ways to die at a chosen moment (used by the SIGKILL tests).

`X-Test-Kill: mid-write`   SIGKILL the process inside the writer's transaction, right after its first journal
                           record is appended (nothing committed).
`X-Test-Kill: after-commit` SIGKILL the process after the transaction committed, before the answer is sent.
The header is not part of an Idempotency-Key's fingerprint, so a retry without it is the same request.
"""

from __future__ import annotations

import os
import signal
from contextvars import ContextVar

from api.app import create_app
from ledger import journal

_mode: ContextVar[str | None] = ContextVar("test_kill_mode", default=None)
# The write may run in another task and thread than its request (a commit group, api/grouping.py), where the
# request's context variables are not seen: "mid-write" arms the process instead (the test sends one request).
_armed = {"mid-write": False}


def _die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


@journal.subscribe
def _kill_mid_write(session, record) -> None:  # noqa: ANN001
    if _armed["mid-write"]:
        session.flush()
        _die()


class KillSwitch:
    def __init__(self, app) -> None:  # noqa: ANN001
        self.app = app

    async def __call__(self, scope, receive, send) -> None:  # noqa: ANN001
        mode = None
        if scope["type"] == "http":
            mode = dict(scope["headers"]).get(b"x-test-kill", b"").decode() or None
        token = _mode.set(mode)
        if mode == "mid-write":
            _armed["mid-write"] = True

        async def guarded_send(message) -> None:  # noqa: ANN001
            if mode == "after-commit" and message["type"] == "http.response.start" and message["status"] < 300:
                _die()
            await send(message)

        try:
            await self.app(scope, receive, guarded_send)
        finally:
            _mode.reset(token)
            if mode == "mid-write":
                _armed["mid-write"] = False


app = KillSwitch(create_app())
