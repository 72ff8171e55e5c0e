"""Benchmark of photo to verdict: from the phone's ``complete`` to the photo's verdict, its face check and the
check-in's placement, with 2 real RQ workers (issue 20, part 2).

    .venv/bin/python bench/photo_verdict.py [--subjects 8] [--capacity-checkins 40] [--seconds 60]
        [--url postgresql://postgres@127.0.0.1:5432/postgres] [--redis redis://127.0.0.1:6379/14]

The real path: ``zhijiao``'s app under gunicorn (2 workers) on a database of its own (PostgreSQL) and a
Redis database of its own, photos in the local store, and 2 ``rq worker`` processes with the project's
worker class (each starts its fork server, as in production). Subjects of one district, each with an
enrolled reference face (an officer's enrolment upload of tests/faces/obama.jpg and ``POST
face-references``, as the officer does). Selfies are 12 MP phone JPEGs (a portrait of the same man,
tests/faces/obama2.jpg and obama3.jpg, placed anywhere in a 3024×4032 frame over a wall of any colour,
sensor noise, stored sideways with EXIF orientation 6, capture time now, GPS at home: 2–3 MB), each one
different, so that none is a duplicate of another.

One check-in is what the phone does: declare the upload, PUT the bytes, ``complete``, then ``POST
/me/checkins`` with it at once. The workers then run the photo's intrinsic checks (``check_upload``: the
sandbox), the face check (``check_face``) and the placement (``place_checkin``). The times are the
database's own (``uploads.checked_at``, ``face_checks.checked_at``, ``checkins.classified_at``, written by
the jobs) less the moment the client sent ``complete``.

1. Floor (before the workers start, same photos): one photo's unavoidable computation in one process,
   ``media.checks.inspect`` (decode to display size, EXIF, pHash, derivatives) plus the face check of its
   display derivative (detect, describe, compare); the capacity floor is 2 cores over that.
2. Capacity: ``--capacity-checkins`` check-ins declared and sent ahead, then all completed and checked in
   at once; check-ins a second = how many over the time from the first ``complete`` to the last of them
   done.
3. Half of that rate, open loop (a check-in leaves every 1/rate s whatever the others take), for
   ``--seconds``: p50 / p99 from ``complete`` to the photo's verdict, to the face check, to the placement,
   and to the last of the three. Goal: p99 ≤ 2 s.

Prints the figures next to their floors and one JSON line at the end.
"""

from __future__ import annotations

import argparse
import http.client
import io
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from multiprocessing import get_context
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
from checkin_load import _wait_up, configure  # noqa: E402 - bench/ on the path first
from pgload import fresh_database  # noqa: E402

FACES = ROOT / "tests" / "faces"
SH = ZoneInfo("Asia/Shanghai")
HOME = (30.05, 119.96)  # inside district A's area (tests.factories.make_world)
FRAME = (3024, 4032)  # upright; the sensor stores it sideways
NOTICE = "2026-01-05T09:00:00+08:00"
GOAL_P99_S = 2.0


# --- photos -------------------------------------------------------------------------------------------------

_noise: dict = {}


def selfie(seed: int) -> bytes:
    """A 12 MP phone selfie of the enrolled man, different from every other seed's (placement, wall, noise)."""
    import numpy as np
    from PIL import Image

    from tests.support.uploads import exif_bytes

    rng = np.random.default_rng(seed)
    portrait = Image.open(FACES / ("obama2.jpg" if seed % 2 else "obama3.jpg")).convert("RGB")
    w, h = FRAME
    scale = min(w / portrait.width, h / portrait.height) * float(rng.uniform(0.85, 0.95))
    fitted = portrait.resize((round(portrait.width * scale), round(portrait.height * scale)), Image.Resampling.BILINEAR)
    wall = tuple(int(c) for c in rng.integers(60, 220, 3))
    big = Image.new("RGB", (w, h), wall)
    big.paste(fitted, (int(rng.integers(0, w - fitted.width)), int(rng.integers(0, h - fitted.height))))
    if "field" not in _noise:  # sensor noise (a phone's file size), drawn once per process and shifted per photo
        _noise["field"] = np.random.default_rng(7).normal(0, 5, (h, w, 3)).astype(np.int16)
    grain = np.roll(_noise["field"], int(rng.integers(0, h)), axis=0)
    big = Image.fromarray(np.clip(np.asarray(big, dtype=np.int16) + grain, 0, 255).astype(np.uint8))
    big = big.transpose(Image.Transpose.ROTATE_90)  # as the sensor wrote it; EXIF orientation 6 turns it back
    taken = datetime.now(SH).replace(tzinfo=None, microsecond=0)
    out = io.BytesIO()
    big.save(out, "JPEG", quality=92, exif=exif_bytes(taken=taken, gps=HOME, orientation=6))
    return out.getvalue()


def selfies(first: int, n: int) -> list[bytes]:
    with get_context("fork").Pool(2) as pool:
        return pool.map(selfie, range(first, first + n), chunksize=4)


# --- the world: subjects with a reference face ---------------------------------------------------------------


def build_world(app, subjects: int) -> list[str]:
    """District A of tests.factories' world, ``subjects`` subjects in it, each enrolled with a reference face by
    their officer (over the app, the enrolment photo checked in this process); their access tokens."""
    from tests.factories import auth_header, make_subject, make_world
    from tests.support.uploads import run_outbox, upload

    world = make_world()
    client = app.test_client()
    officer = auth_header(client, "officerA")
    reference = (FACES / "obama.jpg").read_bytes()
    tokens = []
    for i in range(subjects):
        subject = make_subject(
            office_id=world.units["office_A"],
            grid_id=world.units["grid_A"],
            officer_id=world.users["officer_A"].id,
            username=f"bench{i}",
            name=f"对象{i}",
        )
        up = upload(client, officer, reference, purpose="enrolment")
        assert up["status"] in ("accepted", "suspect"), up
        resp = client.post(
            f"/api/v1/staff/subjects/{subject.id}/face-references",
            json={"upload_id": up["id"], "notice_given_at": NOTICE},
            headers=officer,
        )
        assert resp.status_code == 201, resp.get_json()
        run_outbox()
        tokens.append(auth_header(client, f"bench{i}")["Authorization"])
    return tokens


# --- the phone ----------------------------------------------------------------------------------------------


class Phone:
    """The phone's requests over keep-alive HTTP (one connection per thread)."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.local = threading.local()

    def _conn(self) -> http.client.HTTPConnection:
        if getattr(self.local, "conn", None) is None:
            self.local.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        return self.local.conn

    def request(self, method: str, path: str, token: str, body=None, data: bytes | None = None, ctype=None):
        headers = {"Authorization": token}
        if body is not None:
            data, headers["Content-Type"] = json.dumps(body).encode(), "application/json"
        elif ctype:
            headers["Content-Type"] = ctype
        for attempt in range(2):
            conn = self._conn()
            try:
                conn.request(method, path, body=data, headers=headers)
                resp = conn.getresponse()
                raw = resp.read()
                break
            except (OSError, http.client.HTTPException):
                conn.close()
                self.local.conn = None
                if attempt:
                    raise
        parsed = json.loads(raw) if raw and resp.getheader("Content-Type", "").startswith("application/json") else raw
        if resp.status >= 300:
            raise RuntimeError(f"{method} {path}: {resp.status} {parsed!r:.300}")
        return parsed

    def send(self, token: str, data: bytes) -> int:
        """Declare the selfie and PUT its bytes; the upload's id."""
        import hashlib

        decl = {"purpose": "checkin", "content_type": "image/jpeg", "size_bytes": len(data)}
        decl["sha256"] = hashlib.sha256(data).hexdigest()
        d = self.request("POST", "/api/v1/uploads", token, decl)
        path = "/" + d["upload"]["url"].split("://", 1)[1].split("/", 1)[1]
        self.request("PUT", path, token, data=data, ctype="image/jpeg")
        return d["id"]

    def complete_and_check_in(self, token: str, upload_id: int) -> float:
        """``complete``, then the check-in with the photo at once; when ``complete`` was sent (epoch s)."""
        sent = time.time()
        self.request("POST", f"/api/v1/uploads/{upload_id}/complete", token, data=b"")
        body = {"client_id": str(uuid.uuid4()), "upload_id": upload_id, "latitude": HOME[0], "longitude": HOME[1]}
        body |= {"accuracy_m": 12.0, "captured_at": datetime.now(SH).isoformat()}
        self.request("POST", "/api/v1/me/checkins", token, body)
        return sent


# --- watching the jobs' results -----------------------------------------------------------------------------


def done_times(upload_ids: list[int]) -> dict[int, dict]:
    """For each upload whose three results are in: when each was written (epoch s) and the verdict."""
    from sqlalchemy import text

    from backend.db import db

    sql = text(
        "SELECT u.id, u.status, u.checked_at, f.checked_at, f.result, c.classified_at, c.status FROM uploads u"
        " JOIN checkins c ON c.upload_id = u.id LEFT JOIN face_checks f ON f.upload_id = u.id"
        " WHERE u.id = ANY(:ids) AND u.checked_at IS NOT NULL AND c.classified_at IS NOT NULL"
        " AND (f.checked_at IS NOT NULL OR u.status = 'rejected')"
    )
    with db.engine.connect() as conn:
        rows = conn.execute(sql, {"ids": upload_ids}).all()
    out = {}
    for uid, status, verdict_at, face_at, face, placed_at, checkin in rows:
        out[uid] = {
            "verdict": verdict_at.timestamp(),
            "face": face_at.timestamp() if face_at else verdict_at.timestamp(),
            "placed": placed_at.timestamp(),
            "status": status,
            "face_result": face,
            "checkin": checkin,
        }
    return out


def wait_done(upload_ids: list[int], timeout_s: float) -> dict[int, dict]:
    deadline, got = time.time() + timeout_s, {}
    while time.time() < deadline:
        got = done_times(upload_ids)
        if len(got) == len(upload_ids):
            return got
        time.sleep(0.05)
    raise RuntimeError(f"only {len(got)} of {len(upload_ids)} check-ins were done after {timeout_s:g} s")


def pct(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(len(s) * q))]


# --- the phases ---------------------------------------------------------------------------------------------


def floor(photos: list[bytes]) -> dict:
    """One photo's computation in one process: the intrinsic checks, then the face check of the display."""
    from media import checks, faces

    faces.models()
    checks.prepare()
    reference = faces.analyse_bytes((FACES / "obama.jpg").read_bytes()).descriptor
    inspect_s, face_s = [], []
    for data in photos:
        t = time.perf_counter()
        found = checks.inspect(data, checks.Limits())
        t1 = time.perf_counter()
        seen = faces.analyse_bytes(found.display.data)
        faces.distances(seen.descriptor, [reference])
        face_s.append(time.perf_counter() - t1)
        inspect_s.append(t1 - t)
        assert found.verdict == "accepted" and seen.outcome == faces.ONE, (found.reasons, seen.outcome)
    total = statistics.median(a + b for a, b in zip(inspect_s, face_s, strict=True))
    return {
        "inspect_ms": round(1000 * statistics.median(inspect_s), 1),
        "face_ms": round(1000 * statistics.median(face_s), 1),
        "total_ms": round(1000 * total, 1),
        "capacity_per_s": round(2 / total, 2),  # 2 cores, nothing else
    }


def capacity(phone: Phone, tokens: list[str], photos: list[bytes]) -> dict:
    """Everything sent ahead, then completed at once: check-ins a second from the first ``complete`` to the
    last check-in done."""
    ids = [phone.send(tokens[i % len(tokens)], data) for i, data in enumerate(photos)]
    with ThreadPoolExecutor(max_workers=4) as pool:
        sent = list(pool.map(lambda k: phone.complete_and_check_in(tokens[k % len(tokens)], ids[k]), range(len(ids))))
    got = wait_done(ids, 60 + 5 * len(ids))
    last = max(max(g["verdict"], g["face"], g["placed"]) for g in got.values())
    span = last - min(sent)
    return {"checkins": len(ids), "seconds": round(span, 2), "per_s": round(len(ids) / span, 2), **_outcomes(got)}


def at_rate(phone: Phone, tokens: list[str], photos: list[bytes], rate: float) -> dict:
    """Open loop at ``rate``: the whole phone flow per check-in; latencies from ``complete``."""
    start = time.time() + 0.5
    sent: dict[int, float] = {}
    errors: list[str] = []

    def one(k: int) -> None:
        time.sleep(max(0.0, start + k / rate - time.time()))
        try:
            token = tokens[k % len(tokens)]
            uid = phone.send(token, photos[k])
            sent[uid] = phone.complete_and_check_in(token, uid)
        except Exception as exc:  # noqa: BLE001 - counted and shown
            errors.append(repr(exc)[:200])

    with ThreadPoolExecutor(max_workers=16) as pool:
        list(pool.map(one, range(len(photos))))
    got = wait_done(list(sent), 120)
    lat = {name: [got[u][name] - sent[u] for u in sent] for name in ("verdict", "face", "placed")}
    lat["all"] = [max(got[u]["verdict"], got[u]["face"], got[u]["placed"]) - sent[u] for u in sent]
    out: dict = {"rate_per_s": round(rate, 2), "checkins": len(sent), "errors": len(errors), **_outcomes(got)}
    for name, values in lat.items():
        out[f"{name}_p50_ms"] = round(1000 * pct(values, 0.5), 1)
        out[f"{name}_p99_ms"] = round(1000 * pct(values, 0.99), 1)
    if errors:
        out["first_error"] = errors[0]
    return out


def _outcomes(got: dict) -> dict:
    statuses = [g["status"] for g in got.values()]
    faces = [g["face_result"] for g in got.values()]
    return {
        "accepted": statuses.count("accepted"),
        "face_match": faces.count("MATCH"),
        "counted": [g["checkin"] for g in got.values()].count("counted"),
    }


# --- processes ----------------------------------------------------------------------------------------------


def start_workers(env: dict, prefix: str, instance: str, n: int = 2) -> list[subprocess.Popen]:
    rq = str(Path(sys.executable).parent / "rq")
    procs = []
    for i in range(n):
        log = open(Path(instance) / f"worker{i}.log", "ab")  # noqa: SIM115 - closed with the process
        cmd = [rq, "worker", "--serializer", "rq.serializers.JSONSerializer", "--url", env["REDIS_URL"]]
        cmd += ["--worker-class", "workers.worker.Worker", "--name", f"{prefix}w{i}", prefix + "default"]
        procs.append(subprocess.Popen(cmd, env={**os.environ, **env}, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT))
    from rq import Worker

    from backend.redis_conn import get_redis

    deadline = time.time() + 60
    while time.time() < deadline:
        if sum(w.name.startswith(prefix) for w in Worker.all(connection=get_redis())) >= n:
            return procs
        if any(p.poll() is not None for p in procs):
            break
        time.sleep(0.2)
    raise RuntimeError(f"the rq workers did not start; see {instance}/worker*.log")


def start_app(env: dict, port: int) -> subprocess.Popen:
    server = subprocess.Popen(
        [str(ROOT / ".venv/bin/gunicorn"), "-c", "mobile_api/gunicorn_conf.py", "mobile_api:create_app()"],
        cwd=ROOT,
        env={**os.environ, **env, "WEB_CONCURRENCY": "2", "PORT": str(port), "HOST": "127.0.0.1"},
    )
    try:
        _wait_up(port)
    except RuntimeError:
        server.kill()
        raise
    return server


def stop(procs: list[subprocess.Popen]) -> None:
    for p in procs:
        p.terminate()
    for p in procs:
        try:
            p.wait(timeout=20)
        except subprocess.TimeoutExpired:
            p.kill()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/14", help="a Redis database of its own")
    parser.add_argument("--database", default="zhijiao_bench_photo_verdict")
    parser.add_argument("--port", type=int, default=8767)
    parser.add_argument("--subjects", type=int, default=8)
    parser.add_argument("--floor-photos", type=int, default=6)
    parser.add_argument("--capacity-checkins", type=int, default=40)
    parser.add_argument("--seconds", type=float, default=60.0, help="length of the run at half the capacity")
    parser.add_argument("--rate", type=float, help="the open-loop rate instead of half the measured capacity")
    parser.add_argument("--keep", action="store_true", help="keep the database and the instance folder (logs)")
    args = parser.parse_args()

    url = fresh_database(args.url, args.database)
    instance = tempfile.mkdtemp(prefix="zj-bench-verdict-")
    prefix = f"pv{os.getpid()}-"
    env = configure(url, args.redis, instance, prefix)
    env |= {"RATE_LIMIT_LOGIN_PER_MINUTE": "100000"}
    print(f"instance folder (worker logs): {instance}", flush=True)
    from backend import runtime
    from backend.config import load_settings
    from mobile_api import create_app

    runtime.configure(load_settings(env))
    print(f"building {args.subjects} enrolled subjects …", flush=True)
    tokens = build_world(create_app(runtime.settings()), args.subjects)
    from backend.services.core.outbox import get_queue

    get_queue("default").empty()  # the set-up's jobs already ran here

    warm, cap_n = 4, args.capacity_checkins
    print("making 12 MP selfies …", flush=True)
    photos = selfies(0, warm + cap_n + args.floor_photos)
    fl = floor(photos[-args.floor_photos :])
    print(
        f"floor: one photo in one process {fl['total_ms']} ms (checks {fl['inspect_ms']} + face {fl['face_ms']});"
        f" capacity floor {fl['capacity_per_s']} check-ins/s on 2 cores",
        flush=True,
    )
    procs = []
    try:
        procs.append(start_app(env, args.port))
        procs += start_workers(env, prefix, instance)
        phone = Phone(args.port)
        capacity(phone, tokens, photos[:warm])  # first jobs: connections, caches
        cap = capacity(phone, tokens, photos[warm : warm + cap_n])
        cap["ratio_to_floor"] = round(cap["per_s"] / fl["capacity_per_s"], 2)
        print(f"capacity of 2 workers: {cap['per_s']} check-ins/s ({cap}); floor {fl['capacity_per_s']}", flush=True)
        rate = args.rate or cap["per_s"] / 2
        n = max(1, round(rate * args.seconds))
        print(f"making {n} more selfies for {args.seconds:g} s at {rate:.2f}/s …", flush=True)
        more = selfies(10_000, n)
        run = at_rate(phone, tokens, more, rate)
        for name in ("verdict", "face", "placed", "all"):
            run[f"{name}_p50_ratio"] = round(run[f"{name}_p50_ms"] / fl["total_ms"], 2)
        run["goal_p99_ms"] = 1000 * GOAL_P99_S
        run["goal_met"] = run["all_p99_ms"] <= 1000 * GOAL_P99_S
        print(f"at {run['rate_per_s']}/s for {args.seconds:g} s: {run['checkins']} check-ins, {run['errors']} errors")
        for name, label in (("verdict", "photo's verdict"), ("face", "face check"), ("placed", "placement")):
            print(f"  complete → {label}: p50 {run[f'{name}_p50_ms']} ms, p99 {run[f'{name}_p99_ms']} ms")
        print(
            f"  complete → all three: p50 {run['all_p50_ms']} ms ({run['all_p50_ratio']}× the floor"
            f" {fl['total_ms']} ms), p99 {run['all_p99_ms']} ms (goal ≤ {run['goal_p99_ms']:g} ms)",
            flush=True,
        )
    finally:
        stop(procs)
        from backend.db import db

        db.dispose()
        if not args.keep:
            shutil.rmtree(instance, ignore_errors=True)
            with __import__("psycopg").connect(args.url, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{args.database}" WITH (FORCE)')
    print(json.dumps({"bench": "photo_verdict", "floor": fl, "capacity": cap, "half_capacity": run}))


if __name__ == "__main__":
    main()
