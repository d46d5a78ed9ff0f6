"""The demo's alerts (without the three years of history, to stay quick): every class open and closed, one alert
overdue and escalated, and units of all three colours."""

from __future__ import annotations

from sqlmodel import Session, select

from alerts.models import Alert
from api.demo import seed


def test_the_demo_seeds_alerts_of_every_class_and_colour(engine):  # noqa: ANN001
    with Session(engine) as s:
        world = seed(s, history=False)
        s.commit()
        alerts = s.exec(select(Alert)).all()
    colours = world["alerts"]["colours"]
    assert set(colours.values()) == {"green", "yellow", "red"}
    assert colours["济南明泉化工有限公司"] == "red" and colours["淄博鲁中有色金属冶炼有限公司"] == "yellow"
    for klass in ("generation", "inventory", "transfer", "operation", "declaration"):
        states = {a.status == "closed" for a in alerts if a.klass == klass}
        assert states == {True, False} or klass == "transfer", (klass, states)  # open refusals need the history
    assert {a.tier for a in alerts if a.status != "closed"} == {"low", "mid", "high"}
    assert {a.tier for a in alerts if a.status == "closed"} >= {"low", "mid"}
    escalated = [a for a in alerts if a.escalated_at is not None]
    assert len(escalated) == 1 and escalated[0].overdue_at is not None
    assert (escalated[0].escalated_from, escalated[0].tier, escalated[0].rule) == ("low", "mid", "GEN-NOT-IN-PLAN")
