"""Suggestion triggers as versioned data: validation, publication, the version in force.

Rules: docs/warnings-and-suggestions.md#default-triggers.

A trigger names an evaluator ``kind`` (code: the set-based query in ``suggestions.signals``) and its data:
category, priority, title, parameters, how long a closed suggestion keeps the trigger quiet (cooldown) and
how soon the officer should act (due days). An admin republishes the whole set; each version is kept.
"""

from __future__ import annotations

import copy
import re

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.db import db
from backend.errors import DomainError, NotFound, register
from backend.models.field import SuggestionTriggerSet
from backend.services.core import audit
from backend.services.core.actors import Actor
from backend.services.core.versioned import add_next_version
from backend.services.identity import access
from backend.services.scoring.sql import insert_ignore

register("SUGGESTION_TRIGGERS_INVALID", 422, "建议触发规则不符合要求", "The suggestion triggers are not valid")
access.allow("suggestion_triggers.manage", {"admin"})

CATEGORIES = ("supervision", "education", "employment_help", "counselling", "incentive")
PRIORITIES = ("high", "medium", "low")
DEFAULT_DUE_DAYS = {"high": 3, "medium": 7, "low": 14}
_CODE = re.compile(r"^[a-z][a-z0-9_]{1,39}$")
COLOURS = ("green", "blue", "yellow", "orange", "red")

#: evaluator kind → {parameter: (type, minimum, maximum)}; lists are checked separately
PARAMS: dict[str, dict[str, tuple]] = {
    "event_count": {"rule_codes": (list,), "window_days": (int, 1, 366), "min_count": (int, 1, 1000)},
    "education_progress": {"max_ratio": (float, 0.0, 1.0), "from_day": (int, 1, 28)},
    "report_category": {"categories": (list,), "window_days": (int, 1, 366), "min_count": (int, 1, 1000)},
    "score_drop": {"points": (int, 1, 1000), "window_days": (int, 1, 366), "exclude_causes": (list,)},
    "grade_fall": {"colours": (list,), "window_days": (int, 1, 366), "exclude_causes": (list,)},
    "green_stable": {"days": (int, 1, 3660), "colours": (list,)},
}


def _t(code: str, kind: str, category: str, priority: str, title: str, params: dict, cooldown: int = 30) -> dict:
    return {
        "code": code,
        "kind": kind,
        "category": category,
        "priority": priority,
        "title": title,
        "enabled": True,
        "cooldown_days": cooldown,
        "due_days": DEFAULT_DUE_DAYS[priority],
        "params": params,
    }


_POLICY = ["rule_version", "recompute"]  # a policy change is not the subject's doing
DEFAULT_V1: dict = {
    "triggers": [
        _t(
            "missed_checkins",
            "event_count",
            "supervision",
            "high",
            "多次未按时报到,建议约谈教育并加强监管",
            {"rule_codes": ["CHECKIN_MISSED"], "window_days": 30, "min_count": 2},
        ),
        _t(
            "education_shortfall",
            "education_progress",
            "education",
            "medium",
            "本月学习进度不足一半,建议督促学习",
            {"max_ratio": 0.5, "from_day": 20},
        ),
        _t(
            "unemployment_reports",
            "report_category",
            "employment_help",
            "medium",
            "网格员反映失业或无业,建议就业帮扶",
            {"categories": ["unemployment"], "window_days": 30, "min_count": 1},
        ),
        _t(
            "family_conflict_reports",
            "report_category",
            "counselling",
            "medium",
            "网格员反映家庭矛盾,建议心理疏导与家庭调解",
            {"categories": ["family_conflict"], "window_days": 30, "min_count": 1},
        ),
        _t(
            "score_drop",
            "score_drop",
            "counselling",
            "high",
            "信用矫正分三十日内明显下降,建议谈话了解原因",
            {"points": 30, "window_days": 30, "exclude_causes": _POLICY},
        ),
        _t(
            "grade_fall",
            "grade_fall",
            "supervision",
            "high",
            "信用等级降至较差或失信严重,建议重点关注",
            {"colours": ["orange", "red"], "window_days": 30, "exclude_causes": _POLICY},
        ),
        _t(
            "green_stable",
            "green_stable",
            "incentive",
            "low",
            "连续六个月信用优秀,建议考虑放宽管理等级",
            {"days": 183, "colours": ["green"]},
            cooldown=90,
        ),
    ]
}


def validate(data: object) -> dict:
    """A normalised copy of a trigger set, or SUGGESTION_TRIGGERS_INVALID naming every problem."""
    errs: dict[str, list[str]] = {}

    def bad(path: str, msg: str) -> None:
        errs.setdefault(path, []).append(msg)

    if not isinstance(data, dict) or not isinstance(data.get("triggers"), list) or not data["triggers"]:
        raise DomainError("SUGGESTION_TRIGGERS_INVALID", {"triggers": ["a non-empty list"]})
    data = copy.deepcopy(data)
    seen: set[str] = set()
    for i, t in enumerate(data["triggers"]):
        path = f"triggers[{i}]"
        if not isinstance(t, dict):
            bad(path, "an object")
            continue
        if not _CODE.match(str(t.get("code", ""))) or t["code"] in seen:
            bad(f"{path}.code", "a unique lower_snake_case code")
        seen.add(t.get("code"))
        if t.get("kind") not in PARAMS:
            bad(f"{path}.kind", f"one of {', '.join(PARAMS)}")
            continue
        if t.get("category") not in CATEGORIES:
            bad(f"{path}.category", f"one of {', '.join(CATEGORIES)}")
        if t.get("priority") not in PRIORITIES:
            bad(f"{path}.priority", f"one of {', '.join(PRIORITIES)}")
        if not isinstance(t.get("title"), str) or not 1 <= len(t["title"]) <= 200:
            bad(f"{path}.title", "text of 1–200 characters")
        t.setdefault("enabled", True)
        t.setdefault("cooldown_days", 30)
        t.setdefault("due_days", DEFAULT_DUE_DAYS.get(t.get("priority"), 7))
        if not isinstance(t["enabled"], bool):
            bad(f"{path}.enabled", "true or false")
        for key, hi in (("cooldown_days", 3660), ("due_days", 366)):
            if not _int(t[key]) or not 0 <= t[key] <= hi:
                bad(f"{path}.{key}", f"a whole number of days 0–{hi}")
        _check_params(t["kind"], t.get("params"), f"{path}.params", bad)
    if errs:
        raise DomainError("SUGGESTION_TRIGGERS_INVALID", errs)
    return data


def _int(v: object) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _check_params(kind: str, params: object, path: str, bad) -> None:
    spec = PARAMS[kind]
    if not isinstance(params, dict) or set(params) - set(spec) or set(spec) - set(params):
        bad(path, f"exactly the parameters {', '.join(spec)}")
        return
    for key, (typ, *bounds) in spec.items():
        v = params[key]
        if typ is list:
            if not isinstance(v, list) or not all(isinstance(x, str) and 0 < len(x) <= 40 for x in v):
                bad(f"{path}.{key}", "a list of codes")
            elif key == "colours" and (not v or set(v) - set(COLOURS)):
                bad(f"{path}.{key}", f"colours among {', '.join(COLOURS)}")
            elif key in ("rule_codes", "categories") and not v:
                bad(f"{path}.{key}", "at least one code")
            continue
        ok = _int(v) if typ is int else isinstance(v, int | float) and not isinstance(v, bool)
        if not ok or not bounds[0] <= v <= bounds[1]:
            bad(f"{path}.{key}", f"a number {bounds[0]}–{bounds[1]}")


def ensure_default(session: Session) -> None:
    row = {"version": 1, "data": DEFAULT_V1, "note": "默认触发规则 v1"}
    insert_ignore(session, SuggestionTriggerSet.__table__, row, ["version"])


def current(session: Session) -> tuple[int, list[dict]]:
    """(version, triggers) in force: the highest published version (v1, the default, when none was)."""
    row = session.execute(
        select(SuggestionTriggerSet.version, SuggestionTriggerSet.data)
        .order_by(SuggestionTriggerSet.version.desc())
        .limit(1)
    ).first()
    if row is None:
        ensure_default(session)
        return current(session)
    return row.version, row.data["triggers"]


def publish(actor: Actor, data: object, note: str | None) -> SuggestionTriggerSet:
    """Publish a validated trigger set as the next version (audited); the next evaluation uses it."""
    access.require(actor, "suggestion_triggers.manage")
    clean = validate(data)
    with db.tx() as s:
        ensure_default(s)
        row = add_next_version(s, SuggestionTriggerSet, data=clean, note=note, published_by=actor.user_id)
        version = row.version
        codes = [t["code"] for t in clean["triggers"]]
        audit.record(
            s,
            "suggestion_triggers.publish",
            actor=actor,
            target_type="suggestion_trigger_set",
            target_id=version,
            details={"triggers": codes, "note": note},
        )
    return row


def versions_query():
    return select(SuggestionTriggerSet).order_by(SuggestionTriggerSet.version.desc())


def get_version(session: Session, version: int) -> SuggestionTriggerSet:
    ensure_default(session)
    row = session.get(SuggestionTriggerSet, version)
    if row is None:
        raise NotFound("suggestion triggers")
    return row
