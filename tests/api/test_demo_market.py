"""The demo's collection side and trading hall: every order state, one lot traced to all its producers, an active
hall; the ledger it writes rebuilds and verifies."""

from __future__ import annotations

from decimal import Decimal

from sqlmodel import Session, select

from api.demo import seed
from ledger import journal
from ledger.accounts import User, issue_token
from ledger.batches import rebuild
from ledger.registry.models import Unit
from tests.conftest import auth

D = Decimal


def _token(s: Session, username: str) -> dict:
    user = s.exec(select(User).where(User.username == username)).one()
    tok = issue_token(s, user=user, name="test")
    s.commit()
    return auth(tok)


def test_the_demo_seeds_orders_in_every_state_a_traced_lot_and_a_hall(client, engine):
    with Session(engine) as s:
        world = seed(s, history=False)
        s.commit()
        market = world["market"]
        heads = {n: _token(s, n) for n in ("collector.lf", "receiver.ly", "garage01", "garage03", "regulator.jn")}
    col = market["collector"]
    states = {o["status"] for o in client.get("/api/v1/pickup-orders", headers=heads["collector.lf"]).json()}
    assert states == {"requested", "accepted", "scheduled", "weighed", "confirmed", "cancelled"}
    assert len(market["garages"]) == 12
    # the lot, from the recycler's holding back to all five garages
    m = client.get(f"/api/v1/manifests?unit_id={col}&status=completed", headers=heads["receiver.ly"]).json()
    assert [x["number"] for x in m] == [market["lot_manifest"]]
    holding = m[0]["lines"][0]["holding_id"]
    tr = client.get(f"/api/v1/batches/{holding}/trace", headers=heads["receiver.ly"]).json()
    lot = tr["sections"]["lot"]
    assert lot["producers"] == 5 and sum(D(x["mass_kg"]) for x in lot["sources"]) == D(lot["net_kg"])
    assert set(market["garages"][:5]) <= {p["unit_id"] for p in tr["parties"]}
    assert tr["fate"]["closed"] and tr["fate"]["processed"][0]["method"] == "R9"
    # the hall: the recycler sees the packaging-drum post with its photo and its own offer; the deal left a plan
    posts = client.get("/api/v1/market/posts", headers=heads["receiver.ly"]).json()
    drums = next(p for p in posts if p["id"] == market["hall"]["packaging drums (an open offer from the recycler)"])
    assert drums["photo_urls"] and drums["offers"][0]["status"] == "open" and drums["distance_km"] > 50
    assert client.get(drums["photo_urls"][0], headers=heads["receiver.ly"]).headers["content-type"] == "image/png"
    assert client.get(f"/api/v1/pickup-orders/{market['deal_pickup_order']}",
                      headers=heads["collector.lf"]).json()["lines"][0]["waste_code"] == "900-052-31"
    # the inbox of a garage whose plan came back
    items = client.get(f"/api/v1/units/{market['garages'][2]}/inbox", headers=heads["garage03"]).json()
    assert "plan.returned" in [i["kind"] for i in items]
    with Session(engine) as s:
        assert rebuild(s) == []
        for uid in s.exec(select(Unit.id)).all():
            assert journal.verify(s, unit_id=uid).ok
