"""A local stand-in for Alibaba Cloud SMS (``SendSms``, RPC style): it checks each request's signature with
its own implementation of the documented algorithm and answers as the service does.

The real service cannot be reached from here; this server is what the adapter is tested against. Modes:
``ok`` (Code OK with a BizId), ``bad_phone`` (isv.MOBILE_NUMBER_ILLEGAL), ``throttled``
(isv.BUSINESS_LIMIT_CONTROL), ``server_error`` (HTTP 500 isp.SYSTEM_ERROR), ``slow`` (answers after
``delay`` seconds). A wrong signature, a reused nonce or a stale timestamp is refused as the service does.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
from collections import deque
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, quote

KEY_ID, SECRET = "LTAI-test-key", "test-secret-不要外传"


def _enc(v: str) -> str:
    # RFC 3986 unreserved characters stay; everything else is %XY of its UTF-8 bytes
    return "".join(c if (c.isascii() and (c.isalnum() or c in "-_.~")) else quote(c, safe="") for c in v)


def expected_signature(params: dict, secret: str, method: str = "POST") -> str:
    query = "&".join(f"{_enc(k)}={_enc(v)}" for k, v in sorted(params.items()) if k != "Signature")
    to_sign = f"{method}&{_enc('/')}&{_enc(query)}"
    return base64.b64encode(hmac.new((secret + "&").encode(), to_sign.encode(), hashlib.sha1).digest()).decode()


class FakeAliyunSms:
    def __init__(self) -> None:
        self.modes: deque[str] = deque()
        self.default = "ok"
        self.delay = 3.0
        self.received: list[dict] = []
        self.nonces: set[str] = set()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                length = int(self.headers.get("Content-Length", "0"))
                params = dict(parse_qsl(self.rfile.read(length).decode("utf-8"), keep_blank_values=True))
                status, body = server.answer(params)
                if body is None:
                    return
                raw = json.dumps(body).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json;charset=utf-8")
                    self.send_header("Content-Length", str(len(raw)))
                    self.end_headers()
                    self.wfile.write(raw)
                except OSError:  # the client gave up waiting (the timeout test)
                    pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> FakeAliyunSms:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def answer(self, params: dict) -> tuple[int, dict | None]:
        rid = f"req-{len(self.received) + 1}"

        def refuse(status: int, code: str, message: str) -> tuple[int, dict]:
            return status, {"Code": code, "Message": message, "RequestId": rid}

        if params.get("AccessKeyId") != KEY_ID:
            return refuse(404, "InvalidAccessKeyId.NotFound", "Specified access key is not found.")
        if params.get("Signature") != expected_signature(params, SECRET):
            return refuse(400, "SignatureDoesNotMatch", "Specified signature is not matched.")
        nonce = params.get("SignatureNonce", "")
        if not nonce or nonce in self.nonces:
            return refuse(400, "SignatureNonceUsed", "Specified signature nonce was used already.")
        self.nonces.add(nonce)
        stamp = datetime.strptime(params.get("Timestamp", ""), "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
        if abs((datetime.now(UTC) - stamp).total_seconds()) > 900:
            return refuse(400, "InvalidTimeStamp.Expired", "Specified time stamp is expired.")
        for name, value in (("Action", "SendSms"), ("Version", "2017-05-25"), ("SignatureMethod", "HMAC-SHA1")):
            if params.get(name) != value:
                return refuse(400, "MissingParameter", name)
        self.received.append(params)
        mode = self.modes.popleft() if self.modes else self.default
        if mode == "slow":
            time.sleep(self.delay)
            return 200, {"Code": "OK", "Message": "OK", "BizId": f"biz-{len(self.received)}^0", "RequestId": rid}
        if mode == "bad_phone":
            return 200, {"Code": "isv.MOBILE_NUMBER_ILLEGAL", "Message": "非法手机号", "RequestId": rid}
        if mode == "throttled":
            return 200, {"Code": "isv.BUSINESS_LIMIT_CONTROL", "Message": "触发分钟级流控Permits:1", "RequestId": rid}
        if mode == "server_error":
            return 500, {"Code": "isp.SYSTEM_ERROR", "Message": "系统错误", "RequestId": rid}
        return 200, {"Code": "OK", "Message": "OK", "BizId": f"biz-{len(self.received)}^0", "RequestId": rid}
