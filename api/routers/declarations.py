"""Declaration paths (申报, HJ 1259 §7): what a unit owes, drafts from the balances, remarks, submission, corrections,
and the regulator's return (退回)."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from sqlmodel import Session

from api.deps import Tx, get_session, principal, tx
from api.routers.reports import exact
from ledger.auth import Principal
from ledger.filings import inbox, returns
from ledger.filings.inbox import InboxItemPublic
from ledger.reports import declarations as svc

router = APIRouter(tags=["declarations"])

READ = {401: {"description": "not logged in"},
        404: {"description": "the unit or declaration does not exist or is outside your scope"}}
WRITE = {**READ, 403: {"description": "only the unit's own operators and admins draft and submit declarations"},
         409: {"description": "the declaration is frozen (submitted) or was changed concurrently"},
         422: {"description": "invalid period or kind (the field is named)"}}


@router.get("/units/{unit_id}/declarations", responses=READ,
            summary="The unit's declarations (every version) and every period it owes, with its state")
def list_declarations(unit_id: int, s: Session = Depends(get_session), p: Principal = Depends(principal)):
    rows = svc.list_for(s, principal=p, unit_id=unit_id)
    returned = svc.returns_of(s, [d.id for d in rows])
    return exact({"owed": svc.owed(s, principal=p, unit_id=unit_id),
                  "declarations": [svc.public(s, d, compare=False, returns=returned[d.id]) for d in rows]})


@router.get("/units/{unit_id}/declarations/{declaration_id}", responses=READ,
            summary="One declaration (HJ 1259 table C.1/C.2/C.3 figures); a submitted one says whether the ledger "
                    "now differs")
def get_declaration(unit_id: int, declaration_id: int, s: Session = Depends(get_session),
                    p: Principal = Depends(principal)):
    return exact(svc.public(s, svc.get(s, p, unit_id, declaration_id)))


@router.post("/units/{unit_id}/declarations", status_code=201, responses=WRITE,
             summary="Draft (or refresh the draft of) the declaration of a period from the period balances")
def draft_declaration(unit_id: int, body: svc.DraftIn, t: Tx = Depends(tx)):
    return t.run(lambda s, p: exact(svc.public(s, svc.draft(s, principal=p, unit_id=unit_id, data=body),
                                               compare=False)), status=201)


@router.patch("/units/{unit_id}/declarations/{declaration_id}", responses=WRITE,
              summary="Annotate a draft: a note and remarks per waste code")
def annotate_declaration(unit_id: int, declaration_id: int, body: svc.AnnotateIn, t: Tx = Depends(tx)):
    return t.run(lambda s, p: exact(svc.public(s, svc.annotate(
        s, principal=p, unit_id=unit_id, declaration_id=declaration_id, data=body), compare=False)))


@router.post("/units/{unit_id}/declarations/{declaration_id}/submit", responses=WRITE,
             summary="Submit a draft as reviewed; it is frozen from then on")
def submit_declaration(unit_id: int, declaration_id: int, t: Tx = Depends(tx)):
    return t.run(lambda s, p: exact(svc.public(s, svc.submit(
        s, principal=p, unit_id=unit_id, declaration_id=declaration_id), compare=False)))


@router.post("/units/{unit_id}/declarations/{declaration_id}/correct", status_code=201, responses=WRITE,
             summary="Correct a submitted declaration: a new draft version that names the one it replaces")
def correct_declaration(unit_id: int, declaration_id: int, body: svc.CorrectIn, t: Tx = Depends(tx)):
    return t.run(lambda s, p: exact(svc.public(s, svc.correct(
        s, principal=p, unit_id=unit_id, declaration_id=declaration_id, data=body), compare=False)), status=201)


@router.post("/units/{unit_id}/declarations/{declaration_id}/return", status_code=201, response_model=InboxItemPublic,
             responses={**WRITE, 403: {"description": "only a regulator whose jurisdiction covers the unit (or an "
                                                      "admin) returns a declaration"}},
             summary="A regulator returns a submitted declaration with a reason (退回): it shows in the unit's inbox "
                     "until a corrected version is submitted")
def return_declaration(unit_id: int, declaration_id: int, body: returns.ReturnIn, t: Tx = Depends(tx)):
    return t.run(lambda s, p: inbox.item_public(s, returns.return_declaration(
        s, principal=p, unit_id=unit_id, declaration_id=declaration_id, data=body)), status=201)
