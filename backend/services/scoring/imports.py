"""Public credit base import (省公共信用分): CSV or JSON, matched by ID-number hash, all or nothing per file.

Guarantees: a file with any malformed, out-of-range, unknown-subject or conflicting row imports nothing
(the caller gets CREDIT_BASE_IMPORT_REJECTED with the report); an accepted file adds the new (subject, as-of) bases,
leaves identical ones alone (idempotent per subject and as-of date) and updates the affected scores in
the same transaction, dated in their history. Reports name rows by line number, never by ID number.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
from datetime import date

from sqlalchemy import select

from backend.db import db
from backend.errors import DomainError, register
from backend.models import PublicCreditBase, Subject
from backend.models.scoring import CreditBaseImport
from backend.services.core import audit, crypto
from backend.services.core.actors import SYSTEM, Actor
from backend.services.identity import access
from backend.services.scoring import bulk, rules
from backend.services.subjects import idcard

register(
    "CREDIT_BASE_IMPORT_REJECTED", 422, "导入文件有误,未导入任何数据", "The file was rejected; nothing was imported"
)
register("CREDIT_BASE_FILE_INVALID", 422, "无法读取导入文件", "The import file cannot be read")
access.allow("scoring.credit_base", {"admin"})

CATEGORIES = ("malformed", "out_of_range", "unknown_subject", "conflict")
_HEADERS = {
    "id_number": "id_number",
    "身份证号": "id_number",
    "as_of": "as_of",
    "日期": "as_of",
    "provincial_score": "provincial_score",
    "省公共信用分": "provincial_score",
}
_BATCH = 1000


def parse(content: str | bytes | list, fmt: str) -> list[tuple[int, dict]]:
    """(line number, row) pairs from a CSV text (header row first) or a JSON array of objects."""
    try:
        if isinstance(content, bytes):
            content = content.decode("utf-8-sig")
        if fmt == "csv":
            reader = csv.DictReader(io.StringIO(content))
            return [
                (i + 2, {_HEADERS.get((k or "").strip(), k): v for k, v in r.items()}) for i, r in enumerate(reader)
            ]
        data = json.loads(content) if isinstance(content, str) else content
        if isinstance(data, dict):
            data = data.get("rows")
        if not isinstance(data, list):
            raise ValueError("expected a JSON array of rows")
        return [
            (i + 1, {_HEADERS.get(k, k): v for k, v in r.items()} if isinstance(r, dict) else {})
            for i, r in enumerate(data)
        ]
    except (UnicodeDecodeError, ValueError, RecursionError, csv.Error) as exc:
        raise DomainError("CREDIT_BASE_FILE_INVALID", {"file": [str(exc)[:200]]}) from None


def _whole(raw: object) -> int | None:
    """A whole number from a JSON number or a CSV cell ("812", 812, 812.0), else None."""
    if isinstance(raw, bool):
        return None
    if isinstance(raw, int):
        return raw
    if isinstance(raw, float):
        return int(raw) if raw.is_integer() else None
    text = str(raw).strip() if raw is not None else ""
    return int(text) if re.fullmatch(r"-?\d{1,7}", text) else None


def _clean(row: dict) -> tuple[str, tuple | None]:
    """('ok', (hash, as_of, score)) or (category, None)."""
    raw_id, raw_date, raw_score = row.get("id_number"), row.get("as_of"), row.get("provincial_score")
    if not isinstance(raw_id, str) or not idcard.is_valid(raw_id):
        return "malformed", None
    try:
        as_of = date.fromisoformat(str(raw_date).strip())
    except ValueError:
        return "malformed", None
    value = _whole(raw_score)
    if value is None:
        return "malformed", None
    if not 0 <= value <= 1000 or as_of > date.today() or as_of.year < 2000:
        return "out_of_range", None
    return "ok", (crypto.lookup_hash(idcard.normalise(raw_id)), as_of, value)


def _classify(s, parsed: list[tuple[int, dict]]) -> tuple[dict[str, list[int]], list[tuple[int, date, int]], int]:
    problems: dict[str, list[int]] = {c: [] for c in CATEGORIES}
    cleaned = []
    for line, row in parsed:
        cat, value = _clean(row)
        if cat != "ok":
            problems[cat].append(line)
        else:
            cleaned.append((line, *value))
    hashes = list({c[1] for c in cleaned})
    ids: dict[str, int] = {}
    for i in range(0, len(hashes), _BATCH):
        chunk = hashes[i : i + _BATCH]
        ids.update(s.execute(select(Subject.id_number_hash, Subject.id).where(Subject.id_number_hash.in_(chunk))).all())
    known = [(line, ids[h], as_of, v) for line, h, as_of, v in cleaned if h in ids]
    problems["unknown_subject"] += [line for line, h, _a, _v in cleaned if h not in ids]
    existing: dict[tuple[int, date], int] = {}
    subject_ids = list({k[1] for k in known})
    for i in range(0, len(subject_ids), _BATCH):
        q = select(PublicCreditBase.subject_id, PublicCreditBase.as_of, PublicCreditBase.provincial_score)
        for sid, as_of, v in s.execute(q.where(PublicCreditBase.subject_id.in_(subject_ids[i : i + _BATCH]))):
            existing[(sid, as_of)] = v
    new: dict[tuple[int, date], int] = {}
    unchanged = 0
    for line, sid, as_of, v in known:
        prior = existing.get((sid, as_of), new.get((sid, as_of)))
        if prior is None:
            new[(sid, as_of)] = v
        elif prior != v:
            problems["conflict"].append(line)
        else:
            unchanged += 1
    return problems, [(sid, as_of, v) for (sid, as_of), v in new.items()], unchanged


def import_bases(content: str | bytes | list, fmt: str, *, actor: Actor = SYSTEM, filename: str | None = None):
    """Import one file; return the import record, or raise CREDIT_BASE_IMPORT_REJECTED with the report."""
    if actor is not SYSTEM:
        access.require(actor, "scoring.credit_base")
    if fmt not in ("csv", "json"):
        raise DomainError("CREDIT_BASE_FILE_INVALID", {"format": ["csv or json"]})
    raw = content if isinstance(content, str | bytes) else json.dumps(content, sort_keys=True, default=str)
    digest = hashlib.sha256(raw.encode() if isinstance(raw, str) else raw).hexdigest()
    parsed = parse(content, fmt)
    with db.tx() as s:
        problems, new, unchanged = _classify(s, parsed)
        rejected = any(problems.values()) or not parsed
        report = {
            "rows": len(parsed),
            "accepted": 0 if rejected else len(new),
            "unchanged": 0 if rejected else unchanged,
            **{c: len(lines) for c, lines in problems.items()},
            "lines": {c: sorted(lines)[:200] for c, lines in problems.items() if lines},
        }
        if rejected:
            raise DomainError("CREDIT_BASE_IMPORT_REJECTED", context={"report": report})
        rec = CreditBaseImport(
            filename=filename,
            format=fmt,
            sha256=digest,
            status="accepted",
            rows=len(parsed),
            accepted=len(new),
            unchanged=unchanged,
            report=report,
            created_by=actor.user_id,
        )
        s.add(rec)
        s.flush()
        if new:
            s.execute(
                PublicCreditBase.__table__.insert(),
                [
                    {"subject_id": sid, "as_of": a, "provincial_score": v, "source": f"import:{rec.id}"}
                    for sid, a, v in new
                ],
            )
            result = bulk.recompute(
                s,
                rules.current(s),
                ids=sorted({n[0] for n in new}),
                cause="base_import",
                ref=f"credit_base_import:{rec.id}",
            )
            rec.report = {**report, "scores_changed": result["changed"]}
        audit.record(
            s,
            "credit_base.import",
            actor=actor,
            target_type="credit_base_import",
            target_id=rec.id,
            details={k: v for k, v in rec.report.items() if k != "lines"} | {"sha256": digest},
        )
    return rec
