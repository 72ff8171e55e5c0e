"""Rule sets as versioned data: validation, the parsed form the ledger uses, and loading the version in force."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.errors import DomainError, NotFound, register
from backend.models.scoring import DIMENSIONS, RuleSet
from backend.services.scoring.defaults import DEFAULT_V1
from backend.services.scoring.sql import insert_ignore
from backend.services.scoring.validation import RISK_LEVELS, validate

__all__ = ["RISK_LEVELS", "Band", "Rule", "Rules", "by_version", "current", "ensure_default", "load", "validate"]

register("RULE_UNKNOWN", 422, "未知的计分规则", "Unknown scoring rule")


@dataclass(frozen=True)
class Rule:
    code: str
    dimension: str | None
    points: int | None
    name: str
    expiry_days: int | None = None
    monthly_cap: int | None = None
    per_hour: bool = False
    variable: bool = False
    merit: bool = False

    @property
    def expiry(self) -> timedelta | None:
        return timedelta(days=self.expiry_days) if self.expiry_days else None


@dataclass(frozen=True)
class Band:
    code: str
    name: str
    min: int
    max: int
    colour: str
    benefits: tuple[str, ...]


class Rules:
    """One validated rule-set version in the form the ledger and the score use."""

    def __init__(self, version: int, data: dict) -> None:
        self.version = version
        self.data = data
        self.rules = {code: _rule(code, r) for code, r in data["rules"].items()}
        self.maxima = {d: int(data["dimensions"][d]["max"]) for d in DIMENSIONS}
        self.initials = {d: int(data["dimensions"][d]["initial"]) for d in DIMENSIONS}
        self.risk_initial = {k: int(v) for k, v in data["risk_initial"].items()}
        base = data["public_base"]
        self.base_percent, self.base_max = int(base["percent"]), int(base["max"])
        self.provisional_base = self.public_base(int(base["provisional_provincial"]))
        self.bands = tuple(
            sorted(
                (
                    Band(b["code"], b["name"], b["min"], b["max"], b["colour"], tuple(b["benefits"]))
                    for b in data["grades"]
                ),
                key=lambda b: b.min,
            )
        )
        self.merit_officer_limit = int(data["merit_officer_limit"])

    def rule(self, code: str) -> Rule:
        try:
            return self.rules[code]
        except KeyError:
            raise DomainError("RULE_UNKNOWN", {"rule_code": [code]}) from None

    def initial(self, dimension: str, risk_level: str) -> int:
        if dimension == "risk":
            return self.risk_initial.get(risk_level, self.risk_initial["medium"])
        return self.initials[dimension]

    def public_base(self, provincial: int | None) -> int:
        """round(percent % × provincial score), clamped to 0..max (integer arithmetic, half up)."""
        if provincial is None:
            return self.provisional_base
        return max(0, min(self.base_max, (provincial * self.base_percent + 50) // 100))

    def band(self, total: int) -> Band:
        for b in self.bands:
            if b.min <= total <= b.max:
                return b
        return self.bands[0] if total < self.bands[0].min else self.bands[-1]

    def band_by_code(self, code: str) -> Band | None:
        return next((b for b in self.bands if b.code == code), None)

    def merit_rules(self) -> list[Rule]:
        return [r for r in self.rules.values() if r.merit]


def _rule(code: str, r: dict) -> Rule:
    return Rule(
        code=code,
        dimension=r.get("dimension"),
        points=r.get("points"),
        name=r.get("name", code),
        expiry_days=r.get("expiry_days"),
        monthly_cap=r.get("monthly_cap"),
        per_hour=r.get("per") == "hour",
        variable=bool(r.get("variable")),
        merit=bool(r.get("merit")),
    )


#: parsed versions, keyed by (version, published_at): a version never changes once published
_CACHE: dict[tuple[int, object], Rules] = {}


def ensure_default(session: Session) -> None:
    """Store the default rule set as version 1 when no version exists (safe under concurrency)."""
    insert_ignore(session, RuleSet.__table__, {"version": 1, "data": DEFAULT_V1, "note": "默认规则集 v1"}, ["version"])


def current(session: Session) -> Rules:
    """The rule set in force: the highest published version (v1, the default, when none was published)."""
    row = session.execute(
        select(RuleSet.version, RuleSet.published_at).order_by(RuleSet.version.desc()).limit(1)
    ).first()
    if row is None:
        ensure_default(session)
        row = session.execute(select(RuleSet.version, RuleSet.published_at).where(RuleSet.version == 1)).first()
    return load(session, row.version, row.published_at)


def by_version(session: Session, version: int) -> Rules:
    row = session.execute(select(RuleSet.version, RuleSet.published_at).where(RuleSet.version == version)).first()
    if row is None:
        raise NotFound("rule set")
    return load(session, row.version, row.published_at)


def load(session: Session, version: int, published_at: object) -> Rules:
    """A version by its number and publication time (the cache key: published versions never change)."""
    key = (version, published_at)
    found = _CACHE.get(key)
    if found is None:
        data = session.scalar(select(RuleSet.data).where(RuleSet.version == version))
        found = _CACHE[key] = Rules(version, data)
    return found
