"""SMS gateways behind one interface: the ``log`` provider (embedded default) and Alibaba Cloud SMS.

Rules: docs/schedules.md#delivery.

Alibaba Cloud SMS (短信服务, ``SendSms`` of API version 2017-05-25) is called through its documented RPC-style
signed HTTP API, written here by hand: its official SDK (``alibabacloud_dysmsapi20170525``) is not installable
from this deployment's package index and would bring a large dependency tree for one signed POST. The
signature is signature method V2 (HMAC-SHA1, SignatureVersion 1.0): every parameter but ``Signature`` sorted
by name, names and values percent-encoded (RFC 3986: only A–Z a–z 0–9 ``-_.~`` stay as they are, a space is
%20, ``*`` is %2A, ``~`` stays), joined as ``k=v&…``; the string to sign is ``METHOD&%2F&`` + the percent-encoded
query; the key is the AccessKey secret followed by ``&``. ``tests/core/test_sms_signing.py`` checks this
against Alibaba Cloud's own known-answer example (ECS ``DescribeRegions`` with the secret ``testsecret``).

A provider answers ``send`` with the provider's message id, or raises ``SmsError`` saying what is known:

- ``transient``: the message was certainly not sent (connection refused, throttled, the service's own
  error): the delivery is retried with backoff;
- ``permanent``: it will never be sent as it is (a malformed number, a wrong key or template): failed;
- ``unknown``: it may have been sent (no answer within ``SMS_TIMEOUT_SECONDS``): recorded as unknown and
  never retried, so nobody gets a message twice.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Protocol
from urllib.parse import quote

from backend import runtime

log = logging.getLogger(__name__)

#: what an SMS may be about; each has an approved template at the provider
PURPOSES = ("activation_code", "checkin_reminder", "checkin_missed")


class SmsError(Exception):
    """A send that did not succeed; ``outcome`` is transient, permanent or unknown (module docstring)."""

    def __init__(self, message: str, outcome: str) -> None:
        super().__init__(message)
        assert outcome in ("transient", "permanent", "unknown")
        self.outcome = outcome


@dataclass(frozen=True)
class SmsMessage:
    delivery_id: int
    phone: str
    purpose: str
    #: the template's parameters (strings)
    params: dict = field(default_factory=dict)


class SmsProvider(Protocol):
    name: str

    def send(self, message: SmsMessage, timeout: float) -> str: ...


class LogProvider:
    """Writes one log line per message (ids and purpose only: logs never carry a number or a code)."""

    name = "log"

    def __init__(self) -> None:
        self.sent: list[SmsMessage] = []

    def send(self, message: SmsMessage, timeout: float) -> str:
        log.info("sms", extra={"delivery_id": message.delivery_id, "purpose": message.purpose})
        self.sent.append(message)
        return f"log-{message.delivery_id}"


# --- Alibaba Cloud RPC signature (V2) ---------------------------------------------------------------------


def percent_encode(value: str) -> str:
    """Alibaba Cloud's percent-encoding: UTF-8, only A–Z a–z 0–9 - _ . ~ left as they are (space → %20)."""
    return quote(str(value), safe="-_.~")


def canonical_query(params: dict) -> str:
    """The sorted, percent-encoded ``k=v&…`` of every parameter except ``Signature``."""
    items = sorted((k, v) for k, v in params.items() if k != "Signature")
    return "&".join(f"{percent_encode(k)}={percent_encode(v)}" for k, v in items)


def string_to_sign(method: str, params: dict) -> str:
    return f"{method.upper()}&{percent_encode('/')}&{percent_encode(canonical_query(params))}"


def signature(method: str, params: dict, secret: str) -> str:
    """Base64(HMAC-SHA1(secret + "&", StringToSign))."""
    digest = hmac.new(f"{secret}&".encode(), string_to_sign(method, params).encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def signed(
    method: str,
    params: dict,
    key_id: str,
    secret: str,
    *,
    nonce: str | None = None,
    timestamp: datetime | None = None,
) -> dict:
    """``params`` with the common parameters (AccessKeyId, SignatureNonce, Timestamp …) and the Signature."""
    at = (timestamp or datetime.now(UTC)).astimezone(UTC)
    common = {
        "AccessKeyId": key_id,
        "Format": "JSON",
        "SignatureMethod": "HMAC-SHA1",
        "SignatureVersion": "1.0",
        "SignatureNonce": nonce or uuid.uuid4().hex,
        "Timestamp": at.strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    out = {**common, **params}
    out["Signature"] = signature(method, out, secret)
    return out


#: error codes of Alibaba Cloud SMS after which the same message may be sent again later (nothing was sent)
_TRANSIENT_CODES = ("isv.BUSINESS_LIMIT_CONTROL", "isp.SYSTEM_ERROR", "isp.RAM_PERMISSION_DENY", "Throttling")


class AliyunProvider:
    """Alibaba Cloud SMS ``SendSms`` over its signed RPC API (a form POST; the answer is JSON)."""

    name = "aliyun"

    def __init__(self, endpoint: str, key_id: str, secret: str, sign_name: str, templates: dict[str, str]) -> None:
        self.endpoint, self.key_id, self.secret = endpoint, key_id, secret
        self.sign_name, self.templates = sign_name, templates

    @classmethod
    def from_settings(cls) -> AliyunProvider:
        s = runtime.settings()
        return cls(
            s.sms_aliyun_endpoint,
            s.sms_aliyun_access_key_id,
            s.sms_aliyun_access_key_secret,
            s.sms_aliyun_sign_name,
            parse_templates(s.sms_aliyun_templates),
        )

    def request_params(self, message: SmsMessage) -> dict:
        template = self.templates.get(message.purpose)
        if not template:
            raise SmsError(f"no template for {message.purpose}", "permanent")
        return {
            "Action": "SendSms",
            "Version": "2017-05-25",
            "RegionId": "cn-hangzhou",
            "PhoneNumbers": message.phone,
            "SignName": self.sign_name,
            "TemplateCode": template,
            "TemplateParam": json.dumps(message.params, ensure_ascii=False, separators=(",", ":")),
            "OutId": str(message.delivery_id),
        }

    def send(self, message: SmsMessage, timeout: float) -> str:
        params = signed("POST", self.request_params(message), self.key_id, self.secret)
        body = "&".join(f"{percent_encode(k)}={percent_encode(v)}" for k, v in params.items()).encode()
        req = urllib.request.Request(  # noqa: S310 - the configured https endpoint
            self.endpoint,
            data=body,
            method="POST",
            headers={"Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json"},
        )
        try:
            with urllib.request.urlopen(req, timeout=timeout) as resp:  # noqa: S310 - the configured https endpoint
                status, raw = resp.status, resp.read()
        except urllib.error.HTTPError as exc:
            status, raw = exc.code, exc.read()
        except TimeoutError as exc:
            raise SmsError(f"no answer within {timeout} s", "unknown") from exc
        except urllib.error.URLError as exc:
            if isinstance(exc.reason, TimeoutError):
                raise SmsError(f"no answer within {timeout} s", "unknown") from exc
            raise SmsError(f"cannot reach the gateway: {exc.reason}", "transient") from exc
        except (ConnectionError, OSError) as exc:  # the connection broke after the request went out
            raise SmsError(f"connection lost: {exc!r}", "unknown") from exc
        return self._outcome(status, raw)

    @staticmethod
    def _outcome(status: int, raw: bytes) -> str:
        try:
            answer = json.loads(raw.decode("utf-8") or "{}")
        except (UnicodeDecodeError, ValueError):
            answer = {}
        code = str(answer.get("Code", "")) if isinstance(answer, dict) else ""
        if status == 200 and code == "OK":
            return str(answer.get("BizId") or answer.get("RequestId") or "")[:64]
        detail = f"HTTP {status} {code or '-'}: {str(answer.get('Message', ''))[:200] if answer else ''}".strip()
        if status >= 500 or status == 429 or code.startswith(_TRANSIENT_CODES):
            raise SmsError(detail, "transient")
        raise SmsError(detail, "permanent")


def parse_templates(spec: str) -> dict[str, str]:
    """``activation_code=SMS_1,checkin_reminder=SMS_2`` → {purpose: template code}."""
    out = {}
    for part in (p.strip() for p in spec.split(",")):
        if "=" in part:
            purpose, code = (x.strip() for x in part.split("=", 1))
            out[purpose] = code
    return out


_provider: SmsProvider | None = None


def provider() -> SmsProvider:
    """The configured provider (SMS_PROVIDER), made once per process."""
    global _provider
    if _provider is None:
        _provider = AliyunProvider.from_settings() if runtime.settings().sms_provider == "aliyun" else LogProvider()
    return _provider


def set_provider(p: SmsProvider | None) -> SmsProvider | None:
    """Swap the provider (tests); ``None`` makes the next ``provider()`` build the configured one again."""
    global _provider
    before, _provider = _provider, p
    return before
