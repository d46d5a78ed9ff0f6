"""History paths: import a unit's earlier ledger (CSV/XLSX), back-enter paper manifests."""

from __future__ import annotations

import hashlib

from fastapi import APIRouter, Depends, File, Form, Request, UploadFile
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool

from api.deps import IDEMPOTENCY_HEADER, Tx, get_session, principal, tx
from api.routers.manifests import ManifestPublic, manifest_public
from api.routers.reports import exact
from ledger.auth import Principal
from ledger.errors import InvalidInput
from ledger.history import back_entry as back
from ledger.history import imports

router = APIRouter(tags=["history"])

MAX_FILE_BYTES = 20 * 1024 * 1024
ERRORS = {401: {"description": "not logged in"},
          403: {"description": "only the unit's own operators and admins enter its history"},
          404: {"description": "the unit does not exist or is outside your scope"},
          409: {"description": "the same file or paper manifest was entered already"},
          422: {"description": "invalid rows (every bad row is named in details.errors) or fields"}}


@router.post("/units/{unit_id}/imports", status_code=201, responses=ERRORS,
             summary="Import the unit's earlier ledger from CSV or XLSX (per-batch rows or monthly totals per code); "
                     "a file with any bad row is refused whole")
async def import_history(unit_id: int, request: Request,
                         file: UploadFile = File(..., description="CSV (UTF-8 or GBK) or XLSX; see the README"),
                         dry_run: bool = Form(False, description="validate only, write nothing"),
                         s: Session = Depends(get_session), who: Principal = Depends(principal)):
    content = await file.read(MAX_FILE_BYTES + 1)
    if len(content) > MAX_FILE_BYTES:
        raise InvalidInput(f"the file is larger than {MAX_FILE_BYTES // 1024 // 1024} MB", field="file")
    name = file.filename or "import.csv"
    # The multipart body is consumed by the form parser: the Idempotency-Key binds to the file and the flag instead.
    h = hashlib.sha256(f"POST {request.url.path}?dry_run={dry_run}&name={name}\n".encode())
    h.update(content)
    t = Tx(session=s, principal=who, key=request.headers.get(IDEMPOTENCY_HEADER), fingerprint=h.hexdigest())

    def run(s, p):  # noqa: ANN001
        r = imports.import_file(s, principal=p, unit_id=unit_id, content=content, filename=name, dry_run=dry_run)
        return exact({"document_id": r.document.id, "filename": r.document.filename, "sha256": r.document.sha256,
                      "format": r.format, "rows": r.rows, "batches": r.batches, "records": r.records,
                      "generated_kg": r.totals_kg, "dry_run": r.dry_run})
    return await run_in_threadpool(t.run, run, status=200 if dry_run else 201)


@router.post("/manifests/back-entry", status_code=201, response_model=ManifestPublic, responses=ERRORS,
             tags=["manifests"],
             summary="Back-enter a paper manifest (within 10 working days after the transfer, 转移管理办法 Art. 20) "
                     "with its original dates and signatories")
def back_enter(body: back.BackEntryIn, request: Request, t: Tx = Depends(tx)):
    url = request.app.state.settings.public_url
    return t.run(lambda s, p: manifest_public(s, back.back_enter(s, principal=p, data=body), url), status=201)
