"""Demo data for the embedded default: one district of Hangzhou, its offices and grids, staff, ~50 subjects and
their activity (``demo.activity``: scores, scoring events, warnings, a pending leave, suggestions).

Idempotent: every row is looked up by its stable code or username first, so a second run adds nothing (not
even an audit row). The data is reproducible (a fixed random seed) relative to today's date in Asia/Shanghai.
"""

from __future__ import annotations

import random
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from backend import runtime
from backend.db import db
from backend.models import OrgUnit, PublicCreditBase, Subject, User, Warning
from backend.models.field import Suggestion
from backend.models.scoring import ScoreEvent
from backend.models.subject import CORRECTION_TYPES, RISK_LEVELS, SUPERVISION_LEVELS
from backend.services.core import audit, crypto
from backend.services.demo.activity import RED, seed_activity
from backend.services.identity import passwords
from backend.services.identity.users import create_user
from backend.services.subjects import idcard, levels
from backend.services.subjects.orgs import create_unit

FUYANG_AREA = {  # a simplified outline of 富阳区: a GeoJSON Polygon, one closed counterclockwise ring of [lon, lat]
    "type": "Polygon",
    "coordinates": [
        [
            [119.53, 29.85],
            [119.78, 29.78],
            [120.05, 29.85],
            [120.18, 29.98],
            [120.12, 30.15],
            [119.90, 30.22],
            [119.65, 30.15],
            [119.55, 30.02],
            [119.53, 29.85],
        ]
    ],
}
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
GIVEN = ("伟", "芳", "娜", "敏", "静", "强", "磊", "军", "洋", "勇", "杰", "涛", "明", "秀英", "建华", "志强")
#: (username, role, display name, key of its unit in the dict built by _units)
STAFF = (
    ("admin1", "admin", "系统管理员", None),
    ("officer1", "officer", "周司法员", "office0"),
    ("officer2", "officer", "吴司法员", "office1"),
    ("bureau1", "bureau", "区社区矫正局", "district"),
    ("grid1", "grid_worker", "网格员小林", "grid0"),
    ("grid2", "grid_worker", "网格员小何", "grid2"),
)
#: subjects 1..N with a password set (the others are enrolled but have not activated their login yet)
ACTIVATED = 10


def _unit(s: Session, code: str, created: list, **kw) -> OrgUnit:
    found = s.scalar(select(OrgUnit).where(OrgUnit.code == code))
    if found is None:
        found = create_unit(s, code=code, **kw)
        created.append(f"unit:{found.id}")
    return found


def _units(s: Session, created: list) -> dict[str, OrgUnit]:
    prov = _unit(s, "ZJ", created, level="province", name="浙江省", parent_id=None)
    city = _unit(s, "ZJ-HZ", created, level="city", name="杭州市", parent_id=prov.id)
    dist = _unit(s, "ZJ-HZ-FY", created, level="district", name="富阳区", parent_id=city.id, area=FUYANG_AREA)
    units = {"district": dist}
    for i, (code, name) in enumerate((("FC", "富春司法所"), ("YH", "银湖司法所"))):
        office = _unit(s, f"ZJ-HZ-FY-{code}", created, level="office", name=name, parent_id=dist.id)
        units[f"office{i}"] = office
        for j in (1, 2):
            grid_code = f"{office.code}-G{j}"
            units[f"grid{2 * i + j - 1}"] = _unit(
                s, grid_code, created, level="grid", name=f"{name}第{j}网格", parent_id=office.id
            )
    return units


def _staff(s: Session, units: dict[str, OrgUnit], pw: str, created: list) -> dict[str, User]:
    users = {}
    for username, role, name, unit in STAFF:
        found = s.scalar(select(User).where(User.username == username))
        if found is None:
            found = create_user(
                s,
                username=username,
                password=pw,
                role=role,
                display_name=name,
                unit_ids=[units[unit].id] if unit else [],
                check_password=False,
            )
            created.append(f"user:{found.id}")
        users[username] = found
    return users


def _subject(s: Session, n: int, rng: random.Random, today: date, units: dict, staff: dict, pw: str) -> Subject:
    grid = units[f"grid{(n - 1) % 4}"]
    office_no = 0 if grid.parent_id == units["office0"].id else 1
    officer = staff[f"officer{office_no + 1}"]
    born = date(1965 + rng.randrange(38), 1 + rng.randrange(12), 1 + rng.randrange(28))
    number = idcard.make("330183", born, n)
    name = rng.choice(SURNAMES) + rng.choice(GIVEN)
    start = today - timedelta(days=rng.randrange(10, 700))
    # everyone is still in correction; a few end within the next month (the end-date reminders have work)
    end = max(start + timedelta(days=rng.choice((180, 365, 540, 730, 1095))), today + timedelta(days=5 + n % 30))
    user = User(
        username=f"subject{n}",
        role="subject",
        display_name=name,
        password_hash=passwords.hash_password(pw) if n <= ACTIVATED else None,
    )
    s.add(user)
    s.flush()
    subject = Subject(
        user_id=user.id,
        name=name,
        gender=rng.choice(("male", "male", "male", "female")),
        id_number_enc=crypto.encrypt(number),
        id_number_hash=crypto.lookup_hash(number),
        phone=f"1{rng.choice('3589')}{rng.randrange(10**9):09d}",
        correction_type=CORRECTION_TYPES[n % 4],
        start_date=start,
        end_date=end,
        supervision_level=SUPERVISION_LEVELS[n % 3],
        risk_level=RISK_LEVELS[(n // 3) % 3],
        office_id=units[f"office{office_no}"].id,
        grid_id=grid.id,
        officer_id=officer.id,
        created_by=officer.id,
    )
    s.add(subject)
    s.flush()
    levels.record_start(s, subject, officer.id)  # the level history, as an enrolment writes it
    provincial = rng.randrange(560, 980)
    if n % 7 != 0:  # every 7th stays without an imported base (provisional base, base_pending)
        s.add(
            PublicCreditBase(
                subject_id=subject.id,
                as_of=today.replace(day=1),
                provincial_score=580 if n in RED else provincial,  # the red ones start low
                source="demo",
            )
        )
    return subject


def seed(count: int = 50) -> dict[str, int]:
    """Create what is missing of the demo data set in one transaction; return counts of what exists after it."""
    settings = runtime.settings()
    pw = settings.demo_password
    today = datetime.now(ZoneInfo(settings.timezone)).date()
    created: list[str] = []
    with db.tx() as s:
        units = _units(s, created)
        staff = _staff(s, units, pw, created)
        existing = set(s.scalars(select(User.username).where(User.role == "subject")))
        for n in range(1, count + 1):
            rng = random.Random(2026 * 1000 + n)  # noqa: S311 - reproducible demo data per subject, not security
            if f"subject{n}" not in existing:
                created.append(f"subject:{_subject(s, n, rng, today, units, staff, pw).id}")
        rows = s.execute(select(User.username, Subject).join(Subject, Subject.user_id == User.id)).all()
        numbered = {int(u[7:]): subj for u, subj in rows if u[7:].isdigit() and u.startswith("subject")}
        created += seed_activity(s, {n: numbered[n] for n in range(1, count + 1) if n in numbered}, today)
        if created:  # one audit row per run that changed something: counts and a digest of the ids
            subjects = sum(c.startswith("subject:") for c in created)
            events = sum(c.startswith("event:") for c in created)
            audit.record_bulk(s, "demo.seed", created, counts={"subjects": subjects, "score_events": events})
        result = {
            "created": len(created),
            "org_units": s.scalar(select(func.count()).select_from(OrgUnit)) or 0,
            "users": s.scalar(select(func.count()).select_from(User)) or 0,
            "subjects": s.scalar(select(func.count()).select_from(Subject)) or 0,
            "score_events": s.scalar(select(func.count()).select_from(ScoreEvent)) or 0,
            "warnings": s.scalar(select(func.count()).select_from(Warning)) or 0,
            "suggestions": s.scalar(select(func.count()).select_from(Suggestion)) or 0,
        }
    return result
