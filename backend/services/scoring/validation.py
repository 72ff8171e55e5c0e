"""Validation of a rule set before publication: every problem named by its path, none silently fixed."""

from __future__ import annotations

import copy
import re

from backend.errors import DomainError, register
from backend.models.scoring import DIMENSIONS
from backend.services.scoring.defaults import COLOURS, REQUIRED_CODES

register("RULE_SET_INVALID", 422, "规则集不符合要求", "The rule set is not valid")

_CODE = re.compile(r"^[A-Z][A-Z0-9_]{1,39}$")
_KEY = re.compile(r"^[a-z][a-z0-9_]{0,31}$")
RISK_LEVELS = ("low", "medium", "high")
TOTAL_MAX = 1000


def _text(v: object, limit: int = 40) -> bool:
    return isinstance(v, str) and 0 < len(v) <= limit


def _int(v: object) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def validate(data: object) -> dict:
    """Return a normalised copy of a rule set, or raise RULE_SET_INVALID naming every problem."""
    errs: dict[str, list[str]] = {}

    def bad(path: str, msg: str) -> None:
        errs.setdefault(path, []).append(msg)

    if not isinstance(data, dict):
        raise DomainError("RULE_SET_INVALID", {"": ["a rule set is a JSON object"]})
    data = copy.deepcopy(data)
    for key in ("dimensions", "risk_initial", "public_base", "grades", "benefits", "rules", "city_conversions"):
        if key not in data:
            bad(key, "missing")
    data.setdefault("merit_officer_limit", 10)
    if errs:
        raise DomainError("RULE_SET_INVALID", errs)
    _check_dimensions(data, bad)
    _check_base(data, bad)
    _check_grades(data, bad)
    _check_cities(data, bad)
    _check_rules(data, bad)
    if not _int(data["merit_officer_limit"]) or data["merit_officer_limit"] < 0:
        bad("merit_officer_limit", "a whole number ≥ 0")
    if errs:
        raise DomainError("RULE_SET_INVALID", errs)
    return data


def _check_dimensions(data: dict, bad) -> None:
    dims = data["dimensions"]
    if not isinstance(dims, dict) or set(dims) != set(DIMENSIONS):
        bad("dimensions", f"exactly the dimensions {', '.join(DIMENSIONS)}")
        return
    for d, spec in dims.items():
        mx, ini = (spec.get("max"), spec.get("initial")) if isinstance(spec, dict) else (None, None)
        if isinstance(spec, dict) and not _text(spec.setdefault("name", d)):
            bad(f"dimensions.{d}.name", "a name of 1–40 characters")
        if not _int(mx) or mx <= 0:
            bad(f"dimensions.{d}.max", "a whole number > 0")
        elif not _int(ini) or not 0 <= ini <= mx:
            bad(f"dimensions.{d}.initial", "a whole number between 0 and the maximum")
    maxima = [s.get("max") for s in dims.values() if isinstance(s, dict)]
    if all(_int(m) for m in maxima) and sum(maxima) != 600:
        bad("dimensions", f"maxima must sum to 600 (they sum to {sum(maxima)})")
    risk = data["risk_initial"]
    risk_max = dims.get("risk", {}).get("max") if isinstance(dims.get("risk"), dict) else None
    if not isinstance(risk, dict) or set(risk) != set(RISK_LEVELS):
        bad("risk_initial", "a value for each of low, medium, high")
    elif _int(risk_max):
        for k, v in risk.items():
            if not _int(v) or not 0 <= v <= risk_max:
                bad(f"risk_initial.{k}", "a whole number between 0 and the risk maximum")


def _check_base(data: dict, bad) -> None:
    base = data["public_base"]
    if not isinstance(base, dict):
        bad("public_base", "an object")
        return
    if base.get("max") != TOTAL_MAX - 600:
        bad("public_base.max", "must be 400 (base 0–400 + management 0–600 = 0–1000)")
    if not _int(base.get("percent")) or not 0 < base["percent"] <= 100:
        bad("public_base.percent", "a whole percentage 1–100")
    if not _int(base.get("provisional_provincial")) or not 0 <= base["provisional_provincial"] <= TOTAL_MAX:
        bad("public_base.provisional_provincial", "a provincial score 0–1000")


def _check_grades(data: dict, bad) -> None:
    grades, benefits = data["grades"], data["benefits"]
    if not isinstance(benefits, dict) or not all(
        _KEY.match(str(k)) and isinstance(v, dict) and _text(v.get("name")) and _text(v.get("description", "-"), 200)
        for k, v in benefits.items()
    ):
        bad("benefits", "an object keyed by lower_snake_case codes, each with a name (and a description)")
        benefits = {}
    if not isinstance(grades, list) or not grades:
        bad("grades", "a non-empty list of bands")
        return
    seen_codes, seen_colours, bands = set(), set(), []
    for i, g in enumerate(grades):
        if not isinstance(g, dict):
            bad(f"grades[{i}]", "an object")
            continue
        code, colour = g.get("code"), g.get("colour")
        if not isinstance(code, str) or not _KEY.match(code) or code in seen_codes:
            bad(f"grades[{i}].code", "a unique lower_snake_case code")
        else:
            seen_codes.add(code)
        if not isinstance(colour, str) or colour not in COLOURS or colour in seen_colours:
            bad(f"grades[{i}].colour", f"one of {', '.join(COLOURS)}, each used once")
        else:
            seen_colours.add(colour)
        g.setdefault("name", code)
        if not _text(g["name"]):
            bad(f"grades[{i}].name", "a name of 1–40 characters")
        g.setdefault("benefits", [])
        members = g["benefits"]
        if not isinstance(members, list) or any(not isinstance(b, str) or b not in benefits for b in members):
            bad(f"grades[{i}].benefits", "a list of benefit codes defined under benefits")
        if not (_int(g.get("min")) and _int(g.get("max")) and g["min"] <= g["max"]):
            bad(f"grades[{i}]", "whole numbers min ≤ max")
        else:
            bands.append((g["min"], g["max"]))
    bands.sort()
    if bands and len(bands) == len(grades):
        if bands[0][0] != 0 or bands[-1][1] != TOTAL_MAX:
            bad("grades", "bands must cover 0–1000")
        for (_, hi), (lo, _) in zip(bands, bands[1:], strict=False):
            if lo != hi + 1:
                bad("grades", f"gap or overlap between {hi} and {lo}")


def _check_cities(data: dict, bad) -> None:
    cities = data["city_conversions"]
    if not isinstance(cities, dict):
        bad("city_conversions", "an object keyed by city code")
        return
    for city, spec in cities.items():
        path = f"city_conversions.{city}"
        if not _KEY.match(str(city)) or not isinstance(spec, dict):
            bad(path, "a lower_snake_case city code with an object")
            continue
        if not _int(spec.get("max_points")) or spec["max_points"] < 0:
            bad(f"{path}.max_points", "a whole number ≥ 0")
        pct = spec.get("percent")
        if (
            not isinstance(pct, dict)
            or set(pct) - set(COLOURS)
            or not all(_int(v) and 0 <= v <= 100 for v in pct.values())
        ):
            bad(f"{path}.percent", "percentages 0–100 keyed by colour")
        spec.setdefault("name", city)
        if not _text(spec["name"]):
            bad(f"{path}.name", "a name of 1–40 characters")


def _check_rules(data: dict, bad) -> None:
    rules = data["rules"]
    if not isinstance(rules, dict):
        bad("rules", "an object keyed by rule code")
        return
    missing = REQUIRED_CODES - set(rules)
    if missing:
        bad("rules", f"missing rule codes other features emit: {', '.join(sorted(missing))}")
    for code, r in rules.items():
        path = f"rules.{code}"
        if not _CODE.match(str(code)) or not isinstance(r, dict):
            bad(path, "an UPPER_SNAKE_CASE code with an object")
            continue
        r.setdefault("name", code)
        if not _text(r["name"]):
            bad(f"{path}.name", "a name of 1–40 characters")
        if r.get("variable"):
            if r.get("monthly_cap") is not None or r.get("per") is not None:
                bad(path, "a variable rule (points set per event) takes no cap and no per-hour unit")
            continue
        if r.get("dimension") not in DIMENSIONS:
            bad(f"{path}.dimension", f"one of {', '.join(DIMENSIONS)}")
        pts = r.get("points")
        if not _int(pts) or pts == 0 or abs(pts) > 600:
            bad(f"{path}.points", "a non-zero whole number")
            continue
        if r.get("expiry_days") is not None and (not _int(r["expiry_days"]) or r["expiry_days"] <= 0):
            bad(f"{path}.expiry_days", "a whole number of days > 0")
        if r.get("monthly_cap") is not None and (not _int(r["monthly_cap"]) or r["monthly_cap"] <= 0 or pts < 0):
            bad(f"{path}.monthly_cap", "a whole number > 0, on a positive rule only")
        if r.get("per") not in (None, "hour") or (r.get("per") == "hour" and pts < 0):
            bad(f"{path}.per", 'absent or "hour" (positive rules only)')
        if code.startswith("MERIT_") != bool(r.get("merit")) or (r.get("merit") and pts < 0):
            bad(f"{path}.merit", "merit rules are the positive MERIT_* codes")
