"""Alert rules: pure functions from one frozen fact to zero or more findings, registered with their metadata.

A rule knows nothing of the database: `alerts.facts` turns ledger rows into facts, the engine turns findings into
alerts. Each rule has a stable code, a class (产生/库存/转移/经营/申报), the tiers it can raise, a plain-Chinese title,
what it checks, its threshold and its legal basis (the README table is made from this registry).

Two kinds of rule:
- `state` rules describe a condition that holds now (a batch still stored, a facility still full). The scheduled
  scan sees every subject where it holds; when it no longer holds, a low alert closes itself and a mid/high one is
  marked "fact cleared" and waits for the regulator.
- `event` rules describe something that happened (a weight difference on a receipt, a late weighing). One alert
  per subject, ever: a closed one is never reopened by a later scan.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

CLASSES = ("generation", "inventory", "transfer", "operation", "declaration")
CLASS_NAMES = {"generation": "产生", "inventory": "库存", "transfer": "转移", "operation": "经营", "declaration": "申报"}
TIER_ORDER = {"low": 0, "mid": 1, "high": 2}


@dataclass(frozen=True)
class Finding:
    """What a rule found about one subject: the alert the engine opens or updates."""

    rule: str
    tier: str
    unit_id: int
    subject: str  # "<kind>:<id>[:<qualifier>]", e.g. "facility:12" or "unit:3:2025:900-249-08"
    title: str
    evidence: Mapping[str, Any] = field(default_factory=dict)

    @property
    def subject_kind(self) -> str:
        return self.subject.split(":", 1)[0]

    @property
    def subject_id(self) -> int:
        return int(self.subject.split(":")[1])


@dataclass(frozen=True)
class Rule:
    code: str
    klass: str
    tiers: tuple[str, ...]
    title: str
    checks: str
    threshold: str
    basis: str
    fact: type
    fn: Callable[[Any], Iterable[Finding]]
    kind: str = "state"  # "state" | "event"
    # journal record kinds that can raise its finding (event time), each with an optional test of the record body
    triggers: Mapping[str, Callable[[Mapping[str, Any]], bool] | None] = field(default_factory=dict)
    scanned: bool = True  # gathered by the scheduled scan (False: raised only by an event, e.g. a refused pickup)

    def __call__(self, fact: Any) -> list[Finding]:
        return list(self.fn(fact))

    def triggered_by(self, kind: str, body: Mapping[str, Any]) -> bool:
        """True when a record of `kind` with `body` may raise this rule's finding."""
        if kind not in self.triggers:
            return False
        test = self.triggers[kind]
        return test is None or bool(test(body))


REGISTRY: dict[str, Rule] = {}


def rule(*, code: str, klass: str, tiers: tuple[str, ...], title: str, checks: str, threshold: str, basis: str,
         fact: type, kind: str = "state", triggers: Iterable[str] | Mapping[str, Any] = (), scanned: bool = True
         ) -> Callable[[Callable[[Any], Iterable[Finding]]], Rule]:
    """Register a pure rule function under its code."""
    if klass not in CLASSES:
        raise ValueError(f"unknown class {klass}")
    if kind not in ("state", "event"):
        raise ValueError(f"unknown rule kind {kind}")

    def wrap(fn: Callable[[Any], Iterable[Finding]]) -> Rule:
        if code in REGISTRY:
            raise ValueError(f"rule {code} registered twice")
        r = Rule(code=code, klass=klass, tiers=tiers, title=title, checks=checks, threshold=threshold, basis=basis,
                 fact=fact, fn=fn, kind=kind, scanned=scanned,
                 triggers=dict(triggers) if isinstance(triggers, Mapping) else dict.fromkeys(triggers))
        REGISTRY[code] = r
        return r

    return wrap


def flagged(name: str) -> Callable[[Mapping[str, Any]], bool]:
    """A trigger test: the record body carries `name` in its flags (or as a key)."""
    return lambda body: name in (body.get("flags") or ()) or bool(body.get(name))


def kg(grams: int) -> str:
    """Grams as a kilogram string for evidence (exact, no float)."""
    sign = "-" if grams < 0 else ""
    g = abs(int(grams))
    return f"{sign}{g // 1000}.{g % 1000:03d}".rstrip("0").rstrip(".") if g % 1000 else f"{sign}{g // 1000}"


def t(grams: int) -> str:
    """Grams as tonnes with three decimals, for titles."""
    return f"{grams / 1_000_000:.3f}"


def max_tier(a: str, b: str) -> str:
    return a if TIER_ORDER[a] >= TIER_ORDER[b] else b


def load_all() -> dict[str, Rule]:
    """Import every rule module (registering its rules) and return the registry."""
    from alerts.rules import declaration, generation, inventory, operation, transfer  # noqa: F401

    return REGISTRY
