"""End-to-end smoke: login, /me, enrolment, activation, profile reads."""

from tests.factories import login


def test_login_and_me(client, world):
    tokens = login(client, "officerA")
    assert tokens["expires_in"] == 15 * 60
    me = client.get("/api/v1/me", headers={"Authorization": "Bearer " + tokens["access_token"]}).get_json()
    assert me["role"] == "officer"
    assert [u["id"] for u in me["jurisdiction"]] == [world.units["office_A"]]
