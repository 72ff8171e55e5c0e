"""A client generated from /openapi.json (openapi-python-client) logs in and reads the subject's score.

This is what an app developer does first: if the document's schemas, operationIds or security were wrong, the
generator would fail, or the generated models would refuse the API's real answers.
"""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from backend.db import db

pytestmark = pytest.mark.slow


def _generate(doc: dict, where: Path) -> Path:
    spec = where / "openapi.json"
    spec.write_text(json.dumps(doc, ensure_ascii=False))
    bin_dir = Path(sys.executable).parent
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"}
    out = where / "client"
    # the photo upload's body is ``image/*`` bytes; the generator knows binary bodies by another name
    config = where / "config.json"
    config.write_text(json.dumps({"content_type_overrides": {"image/*": "application/octet-stream"}}))
    proc = subprocess.run(
        [str(bin_dir / "openapi-python-client"), "generate", "--path", str(spec), "--output-path", str(out),
         "--meta", "none", "--config", str(config)],
        env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output
    assert "warning" not in output.lower(), output  # every schema and operation understood
    return out


def test_generated_client_logs_in_and_reads_the_score(app, clean, settings, tmp_path):
    from backend.services.demo import seed

    seed.seed()
    db.remove()
    doc = app.test_client().get("/openapi.json").get_json()
    package_dir = _generate(doc, tmp_path)
    sys.path.insert(0, str(package_dir.parent))
    try:
        client_mod = importlib.import_module("client")
        login = importlib.import_module("client.api.auth.login")
        get_my_score = importlib.import_module("client.api.score.get_my_score")
        models = importlib.import_module("client.models")

        transport = httpx.WSGITransport(app=app)
        anonymous = client_mod.Client(base_url="http://zhijiao.test", httpx_args={"transport": transport})
        body = models.LoginIn(username="subject1", password=settings.demo_password, device_id="generated-client")
        tokens = login.sync(client=anonymous, body=body)
        assert isinstance(tokens, models.TokensOut), tokens
        assert tokens.access_token

        refused = login.sync_detailed(
            client=anonymous, body=models.LoginIn(username="subject1", password="wrong-Pass1", device_id="x")
        )
        assert refused.status_code == 401
        assert isinstance(refused.parsed, models.Error) and refused.parsed.code == "INVALID_CREDENTIALS"

        subject = client_mod.AuthenticatedClient(
            base_url="http://zhijiao.test", token=tokens.access_token, httpx_args={"transport": transport}
        )
        score = get_my_score.sync(client=subject)
        assert score is not None and not isinstance(score, models.Error), score
        direct = (
            app.test_client()
            .get("/api/v1/me/score", headers={"Authorization": f"Bearer {tokens.access_token}"})
            .get_json()
        )
        assert score.to_dict() == direct
    finally:
        sys.path.remove(str(package_dir.parent))
        for name in [m for m in sys.modules if m == "client" or m.startswith("client.")]:
            del sys.modules[name]
