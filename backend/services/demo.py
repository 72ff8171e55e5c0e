"""Demo data for the embedded default: one district of Hangzhou, its offices and grids, staff and ~50 subjects.

Idempotent: every row is looked up by its stable code or username first, so a second run adds nothing.
"""

from __future__ import annotations

import random
from datetime import date, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend import runtime
from backend.db import db
from backend.models import OrgUnit, PublicCreditBase, Subject, User, UserUnit
from backend.services import audit, crypto, idcard, passwords
from backend.services.orgs import create_unit
from backend.services.users import create_user

FUYANG_AREA = {  # a simplified outline of 富阳区, [lon, lat]
    "type": "polygon",
    "coordinates": [
        [119.53, 29.85],
        [119.78, 29.78],
        [120.05, 29.85],
        [120.18, 29.98],
        [120.12, 30.15],
        [119.90, 30.22],
        [119.65, 30.15],
        [119.55, 30.02],
    ],
}
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
GIVEN = [
    "伟",
    "芳",
    "娜",
    "敏",
    "静",
    "强",
    "磊",
    "军",
    "洋",
    "勇",
    "艳",
    "杰",
    "涛",
    "明",
    "超",
    "秀英",
    "建华",
    "志强",
]
TYPES = ("control", "probation", "parole", "temporary_execution")
LEVELS = ("strict", "normal", "lenient")
RISKS = ("low", "medium", "high")


def _unit(s: Session, code: str, **kw) -> OrgUnit:
    found = s.scalar(select(OrgUnit).where(OrgUnit.code == code))
    return found or create_unit(s, code=code, **kw)


def _staff(s: Session, username: str, role: str, name: str, units: list[int], pw: str) -> User:
    found = s.scalar(select(User).where(User.username == username))
    return found or create_user(
        s, username=username, password=pw, role=role, display_name=name, unit_ids=units, check_password=False
    )


def seed(count: int = 50) -> dict:
    """Create what is missing of the demo data set; return what exists afterwards."""
    pw = runtime.settings().demo_password
    rng = random.Random(2026)  # noqa: S311 - reproducible demo data, not security
    with db.tx() as s:
        prov = _unit(s, "ZJ", level="province", name="浙江省", parent_id=None)
        city = _unit(s, "ZJ-HZ", level="city", name="杭州市", parent_id=prov.id)
        dist = _unit(s, "ZJ-HZ-FY", level="district", name="富阳区", parent_id=city.id, area=FUYANG_AREA)
        offices = [
            _unit(s, "ZJ-HZ-FY-FC", level="office", name="富春司法所", parent_id=dist.id),
            _unit(s, "ZJ-HZ-FY-YH", level="office", name="银湖司法所", parent_id=dist.id),
        ]
        grids = [
            _unit(s, f"{o.code}-G{i}", level="grid", name=f"{o.name}第{i}网格", parent_id=o.id)
            for o in offices
            for i in (1, 2)
        ]
        admin = _staff(s, "admin1", "admin", "系统管理员", [], pw)
        officers = [
            _staff(s, "officer1", "officer", "周所长", [offices[0].id], pw),
            _staff(s, "officer2", "officer", "吴司法员", [offices[1].id], pw),
        ]
        _staff(s, "bureau1", "bureau", "区矫正局", [dist.id], pw)
        _staff(s, "grid1", "grid_worker", "网格员小林", [grids[0].id], pw)
        _staff(s, "grid2", "grid_worker", "网格员小何", [grids[2].id], pw)
        created = 0
        today = date.today()
        for n in range(1, count + 1):
            username = "subject1" if n == 1 else f"subject{n}"
            if s.scalar(select(User.id).where(User.username == username)) is not None:
                continue
            grid = grids[0] if n == 1 else grids[(n - 1) % 4]
            office_idx = 0 if grid.parent_id == offices[0].id else 1
            born = date(1965 + rng.randrange(35), 1 + rng.randrange(12), 1 + rng.randrange(28))
            number = idcard.make("330183", born, n)
            start = today - timedelta(days=rng.randrange(10, 700))
            user = User(
                username=username,
                role="subject",
                display_name="",
                password_hash=passwords.hash_password(pw) if n <= 10 else None,
            )
            s.add(user)
            s.flush()
            name = rng.choice(SURNAMES) + rng.choice(GIVEN)
            user.display_name = name
            subject = Subject(
                user_id=user.id,
                name=name,
                gender=rng.choice(("male", "male", "female")),
                id_number_enc=crypto.encrypt(number),
                id_number_hash=crypto.lookup_hash(number),
                phone=f"1{rng.choice('3589')}{rng.randrange(10**9):09d}",
                correction_type=TYPES[n % 4],
                start_date=start,
                end_date=start + timedelta(days=rng.choice((180, 365, 540, 730, 1095))),
                supervision_level=LEVELS[n % 3],
                risk_level=RISKS[(n // 3) % 3],
                office_id=offices[office_idx].id,
                grid_id=grid.id,
                officer_id=officers[office_idx].id,
                created_by=officers[office_idx].id,
            )
            s.add(subject)
            s.flush()
            if n % 7 != 0:  # a few stay without an imported base (provisional base, base_pending)
                s.add(
                    PublicCreditBase(
                        subject_id=subject.id,
                        as_of=today.replace(day=1),
                        provincial_score=rng.randrange(560, 960),
                        source="demo",
                    )
                )
            created += 1
        audit.record(s, "demo.seed", details={"subjects_created": created, "admin_id": admin.id})
        total = len(s.scalars(select(Subject.id)).all())
        staff = len(s.scalars(select(UserUnit.user_id)).all())
    return {"subjects_created": created, "subjects": total, "staff_assignments": staff}
