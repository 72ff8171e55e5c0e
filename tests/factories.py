"""Plain factory functions for test data: an org tree with two districts, staff of every role, subjects."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import date

from backend.db import db
from backend.models import Subject, User
from backend.services.core import crypto
from backend.services.identity import passwords
from backend.services.identity.users import create_user
from backend.services.subjects import idcard
from backend.services.subjects.orgs import create_unit

PASSWORD = "Passw0rd!"


@dataclass
class World:
    units: dict[str, int] = field(default_factory=dict)
    users: dict[str, User] = field(default_factory=dict)
    subjects: dict[str, Subject] = field(default_factory=dict)


_seq = {"n": 0}


def make_subject(
    *,
    office_id: int,
    grid_id: int,
    officer_id: int | None,
    username: str,
    name: str = "张三",
    password: str | None = PASSWORD,
    **overrides,
) -> Subject:
    _seq["n"] += 1
    number = idcard.make("330183", date(1980, 1, 1 + _seq["n"] % 28), _seq["n"] % 1000)
    with db.tx() as s:
        user = User(
            username=username,
            role="subject",
            display_name=name,
            password_hash=passwords.hash_password(password) if password else None,
        )
        s.add(user)
        s.flush()
        fields = dict(
            user_id=user.id,
            name=name,
            gender="male",
            id_number_enc=crypto.encrypt(number),
            id_number_hash=crypto.lookup_hash(number),
            phone="13800000000",
            correction_type="probation",
            start_date=date(2026, 1, 1),
            end_date=date(2027, 12, 31),
            supervision_level="normal",
            risk_level="medium",
            office_id=office_id,
            grid_id=grid_id,
            officer_id=officer_id,
        )
        fields.update(overrides)
        subject = Subject(**fields)
        s.add(subject)
    subject.__dict__["_plain_id_number"] = number
    return subject


def make_world() -> World:
    """Two districts (A: ours, B: foreign), each with one office and one grid, and one user per role."""
    w = World()
    with db.tx() as s:
        prov = create_unit(s, level="province", name="浙江省", code="P", parent_id=None)
        city = create_unit(s, level="city", name="杭州市", code="C", parent_id=prov.id)
        for side in ("A", "B"):
            dist = create_unit(
                s,
                level="district",
                name=f"区{side}",
                code=f"D{side}",
                parent_id=city.id,
                area={"type": "Point", "coordinates": [119.96, 30.05], "radius_m": 20000},
            )
            office = create_unit(s, level="office", name=f"所{side}", code=f"O{side}", parent_id=dist.id)
            grid = create_unit(s, level="grid", name=f"网格{side}", code=f"G{side}", parent_id=office.id)
            w.units.update({f"district_{side}": dist.id, f"office_{side}": office.id, f"grid_{side}": grid.id})
        w.units["province"], w.units["city"] = prov.id, city.id
        for side in ("A", "B"):
            w.users[f"officer_{side}"] = create_user(
                s, username=f"officer{side}", password=PASSWORD, role="officer", unit_ids=[w.units[f"office_{side}"]]
            )
            w.users[f"bureau_{side}"] = create_user(
                s, username=f"bureau{side}", password=PASSWORD, role="bureau", unit_ids=[w.units[f"district_{side}"]]
            )
            w.users[f"grid_{side}"] = create_user(
                s, username=f"grid{side}", password=PASSWORD, role="grid_worker", unit_ids=[w.units[f"grid_{side}"]]
            )
        w.users["admin"] = create_user(s, username="admin", password=PASSWORD, role="admin")
    for side in ("A", "B"):
        w.subjects[side] = make_subject(
            office_id=w.units[f"office_{side}"],
            grid_id=w.units[f"grid_{side}"],
            officer_id=w.users[f"officer_{side}"].id,
            username=f"subject{side}",
            name=f"对象{side}",
        )
        w.users[f"subject_{side}"] = db.session.get(User, w.subjects[side].user_id)
    return w


def login(client, username: str, password: str = PASSWORD, device_id: str = "test-device") -> dict:
    resp = client.post("/api/v1/auth/login", json={"username": username, "password": password, "device_id": device_id})
    assert resp.status_code == 200, resp.get_json()
    return resp.get_json()


def auth_header(client, username: str) -> dict:
    return {"Authorization": "Bearer " + login(client, username)["access_token"]}


def fire_together(app, n: int, send) -> list:
    """``send(test_client)`` from ``n`` threads released at once (a barrier); their results, in thread order."""
    barrier = threading.Barrier(n)
    results: list = [None] * n

    def go(i: int) -> None:
        c = app.test_client()
        barrier.wait()
        try:
            results[i] = send(c)
        finally:
            db.remove()

    threads = [threading.Thread(target=go, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    return results
