"""Steps shared by the browser journeys: a new subject enrolled by officer1 through the API, activated."""

from __future__ import annotations

import itertools
import os
from datetime import date, timedelta

from backend.services.subjects import idcard
from tests.web.conftest import Server

PASSWORD = "Huijia2026ok"
_seq = itertools.count(1)


def enrol(server: Server) -> dict:
    """officer1 enrols a subject in 富春司法所's first grid: {username, activation_code, subject}."""
    token = server.login("officer1")
    status, subjects = server.call("GET", "/staff/subjects?page_size=1", token=token)
    assert status == 200 and subjects, subjects
    n = next(_seq) + 100 * (os.getpid() % 1000)
    body = {
        "name": f"测试{n}",
        "gender": "male",
        "id_number": idcard.make("330183", date(1960, 1, 1) + timedelta(days=n % 15000), n % 1000),
        "correction_type": "probation",
        "start_date": date.today().isoformat(),
        "end_date": (date.today() + timedelta(days=365)).isoformat(),
        "office_id": subjects[0]["office_id"],
        "grid_id": subjects[0]["grid_id"],
        "username": f"web{n}",
        "client_id": f"web-enrol-{n}",
    }
    status, out = server.call("POST", "/staff/subjects", body, token=token)
    assert status == 201, out
    return out


def activated(server: Server) -> dict:
    """A new subject whose login is active (activated through the API): {username, subject, token}."""
    e = enrol(server)
    status, tokens = server.call(
        "POST", "/auth/activate", {"activation_code": e["activation_code"], "password": PASSWORD}
    )
    assert status == 200, tokens
    return {**e, "token": tokens["access_token"]}
