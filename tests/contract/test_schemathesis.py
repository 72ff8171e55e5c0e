"""The document is the truth: schemathesis answers every operation as every demo role, in-process over WSGI.

For each role, a database freshly cleaned and seeded with the demo district, then every operation of
``/openapi.json`` with ``EXAMPLES`` generated requests each (valid and invalid ones; a fixed seed, so a run
repeats), checked by ``not_a_server_error`` (no 5xx), ``status_code_conformance`` (every status answered is
documented) and ``response_schema_conformance`` (every body matches its documented schema, errors included).
Each role's operations run in one pytest item (``xdist_group``): the role's database is its own while it runs.
"""

from __future__ import annotations

import dataclasses
import os
import threading
from collections import Counter

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, settings
from hypothesis import seed as hypothesis_seed
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance, status_code_conformance

from backend import runtime
from backend.db import db

#: generated requests per operation and role (CONTRACT_EXAMPLES raises it for a longer hunt)
EXAMPLES = int(os.environ.get("CONTRACT_EXAMPLES", "25"))
SEED = 20261207
ROLES = ("anonymous", "subject1", "grid1", "officer1", "bureau1", "admin1")
CHECKS = [not_a_server_error, status_code_conformance, response_schema_conformance]
#: requests and statuses per role, printed at the end of the run (the issue note's figures)
TALLY: dict[str, Counter] = {}


class Session:
    """The role's access token, logged in again when a request ended it (logout, a changed password)."""

    def __init__(self, client, username: str | None, password: str) -> None:
        self.client, self.username, self.password = client, username, password
        self.lock = threading.Lock()
        self.token: str | None = None

    def headers(self) -> dict:
        if self.username is None:
            return {}
        with self.lock:
            if self.token is None:
                resp = self.client.post(
                    "/api/v1/auth/login",
                    json={"username": self.username, "password": self.password, "device_id": "contract"},
                    # from an address of its own: the generated logins from 127.0.0.1 fill that address's
                    # rate-limit bucket, which must not keep the role itself out for the rest of the run
                    environ_base={"REMOTE_ADDR": "10.9.8.7"},
                )
                self.token = resp.get_json()["access_token"] if resp.status_code == 200 else ""
                if os.environ.get("CONTRACT_DEBUG") and resp.status_code != 200:
                    print("login", resp.status_code, resp.get_data(as_text=True)[:200])
            return {"Authorization": f"Bearer {self.token}"} if self.token else {}

    def saw(self, status: int) -> None:
        if status == 401:
            self.token = None


@pytest.fixture(params=ROLES)
def role(request):
    return request.param


@pytest.fixture
def role_session(role, app, clean, settings):
    """A fresh demo district for this role (admin operations change users), and the role logged in.

    The generated requests log out and change passwords too, so the role logs in again when its session ends;
    the login rate limits are raised for the run (they have tests of their own) so that thousands of generated
    logins do not keep the role itself out and leave most operations answering 401.
    """
    from backend.services.demo import seed

    seed.seed()
    db.remove()
    runtime.configure(dataclasses.replace(runtime.settings(), rate_limit_login_per_minute=1_000_000))
    client = app.test_client()
    yield Session(client, None if role == "anonymous" else role, settings.demo_password)
    runtime.configure(settings)


@pytest.fixture
def api_schema(app, role, role_session):
    yield schemathesis.openapi.from_wsgi("/openapi.json", app)
    tally = TALLY.get(role, Counter())
    line = f"contract {role}: {sum(tally.values())} requests, statuses {dict(sorted(tally.items()))}"
    print("\n" + line)
    if os.environ.get("CONTRACT_TALLY"):  # a file to collect the figures of every role across xdist workers
        with open(os.environ["CONTRACT_TALLY"], "a", encoding="utf-8") as f:
            f.write(line + "\n")


schema = schemathesis.pytest.from_fixture("api_schema")


@pytest.mark.contract
@schema.parametrize()
@hypothesis_seed(SEED)
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
)
def test_every_operation_as_every_role(case, role, role_session):
    response = case.call(headers=role_session.headers())
    role_session.saw(response.status_code)
    TALLY.setdefault(role, Counter())[response.status_code] += 1
    if os.environ.get("CONTRACT_DEBUG") and response.status_code == 401:
        print("401", case.method, case.path, case.path_parameters, response.text[:120], role_session.token and "tok")
    case.validate_response(response, checks=CHECKS)
