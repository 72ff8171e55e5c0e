from tests.factories import auth_header
def test_x(client, world):
    h = auth_header(client, "officerA")
    for url in ["/api/v1/staff/subjects/99999999999/score", "/api/v1/staff/appeals/99999999999/decision",
                "/api/v1/me/score/events?date_to=9999-12-31", "/api/v1/me/score/history?date_from=0001-01-01"]:
        r = client.get(url, headers=h) if "decision" not in url else client.post(url, json={"decision": "uphold"}, headers=h)
        print(url, r.status_code)
    hs = auth_header(client, "subjectA")
    for url in ["/api/v1/me/score/events?date_to=9999-12-31", "/api/v1/me/score/events?date_from=0001-01-01", "/api/v1/me/score/history?date_from=0001-01-01", "/api/v1/me/score/history?date_to=9999-12-31&date_from=9999-12-30"]:
        r = client.get(url, headers=hs); print(url, r.status_code)
