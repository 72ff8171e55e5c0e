"""The Alibaba Cloud SMS adapter: its signature passes the provider's documented known-answer example, and it
talks to a local stand-in of the service (tests/support/aliyun_sms.py) that checks every signature.

The real service cannot be reached from here: docs/schedules.md#delivery.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime

import pytest

from backend.services.core import sms
from tests.support.aliyun_sms import KEY_ID, SECRET, FakeAliyunSms

#: Alibaba Cloud's own example of signature method V2 (ECS API reference, "Request signatures":
#: https://www.alibabacloud.com/help/doc-detail/28139.htm): DescribeRegions, AccessKeyId testid, the secret testsecret
DOC_PARAMS = {
    "Timestamp": "2016-02-23T12:46:24Z",
    "Format": "XML",
    "AccessKeyId": "testid",
    "Action": "DescribeRegions",
    "SignatureMethod": "HMAC-SHA1",
    "SignatureNonce": "3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf",
    "Version": "2014-05-26",
    "SignatureVersion": "1.0",
}
DOC_STRING_TO_SIGN = (
    "GET&%2F&AccessKeyId%3Dtestid%26Action%3DDescribeRegions%26Format%3DXML%26SignatureMethod%3DHMAC-SHA1"
    "%26SignatureNonce%3D3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf%26SignatureVersion%3D1.0"
    "%26Timestamp%3D2016-02-23T12%253A46%253A24Z%26Version%3D2014-05-26"
)
DOC_SIGNATURE = "OLeaidS1JvxuMvnyHOwuJ+uX5qY="


def test_the_documented_example_signs_to_the_documented_signature():
    assert sms.string_to_sign("GET", DOC_PARAMS) == DOC_STRING_TO_SIGN
    assert sms.signature("GET", DOC_PARAMS, "testsecret") == DOC_SIGNATURE
    assert sms.signature("GET", DOC_PARAMS, "testsecreT") != DOC_SIGNATURE


def test_percent_encoding_follows_the_documented_rules():
    assert sms.percent_encode("A-z_0.9~") == "A-z_0.9~"  # unreserved characters stay
    assert sms.percent_encode("a b") == "a%20b"  # a space is %20, not +
    assert sms.percent_encode("*") == "%2A"
    assert sms.percent_encode('"') == "%22"
    assert sms.percent_encode("/") == "%2F"
    assert sms.percent_encode("报到") == "%E6%8A%A5%E5%88%B0"  # UTF-8 bytes, upper-case hex


def test_signed_adds_the_common_parameters_and_a_fresh_nonce():
    at = datetime(2026, 12, 7, 1, 2, 3, tzinfo=UTC)
    one = sms.signed("POST", {"Action": "SendSms"}, "id", "secret", timestamp=at)
    two = sms.signed("POST", {"Action": "SendSms"}, "id", "secret", timestamp=at)
    assert one["Timestamp"] == "2026-12-07T01:02:03Z" and one["SignatureMethod"] == "HMAC-SHA1"
    assert one["SignatureVersion"] == "1.0" and one["AccessKeyId"] == "id" and one["Format"] == "JSON"
    assert one["SignatureNonce"] != two["SignatureNonce"]
    assert one["Signature"] == sms.signature("POST", one, "secret")


def _provider(url: str, key_id: str = KEY_ID, secret: str = SECRET) -> sms.AliyunProvider:
    templates = sms.parse_templates("activation_code=SMS_100, checkin_reminder=SMS_200,checkin_missed=SMS_300")
    return sms.AliyunProvider(url, key_id, secret, "智矫", templates)


MESSAGE = sms.SmsMessage(7, "13800000000", "checkin_reminder", {"date": "2026-12-07", "time": "22:00"})


def test_a_send_the_service_accepts():
    with FakeAliyunSms() as fake:
        ref = _provider(fake.url).send(MESSAGE, timeout=5)
    assert ref == "biz-1^0"
    [got] = fake.received
    assert got["PhoneNumbers"] == "13800000000" and got["TemplateCode"] == "SMS_200" and got["SignName"] == "智矫"
    assert json.loads(got["TemplateParam"]) == {"date": "2026-12-07", "time": "22:00"}
    assert got["OutId"] == "7" and got["RegionId"] == "cn-hangzhou"


@pytest.mark.parametrize(
    ("mode", "outcome"),
    [("bad_phone", "permanent"), ("throttled", "transient"), ("server_error", "transient")],
)
def test_the_services_refusals_say_whether_a_retry_may_follow(mode, outcome):
    with FakeAliyunSms() as fake:
        fake.modes.append(mode)
        with pytest.raises(sms.SmsError) as err:
            _provider(fake.url).send(MESSAGE, timeout=5)
    assert err.value.outcome == outcome


def test_a_wrong_secret_is_refused_by_the_signature_check():
    with FakeAliyunSms() as fake, pytest.raises(sms.SmsError) as err:
        _provider(fake.url, secret="not-the-secret").send(MESSAGE, timeout=5)
    assert err.value.outcome == "permanent" and "SignatureDoesNotMatch" in str(err.value)
    assert fake.received == []


def test_no_answer_in_time_is_unknown():
    with FakeAliyunSms() as fake:
        fake.modes.append("slow")
        fake.delay = 2.0
        started = time.monotonic()
        with pytest.raises(sms.SmsError) as err:
            _provider(fake.url).send(MESSAGE, timeout=0.5)
        assert time.monotonic() - started < 1.9
    assert err.value.outcome == "unknown"
    assert len(fake.received) == 1  # the service did get it: which is why it must not be sent again


def test_a_service_that_cannot_be_reached_is_transient():
    with FakeAliyunSms() as fake:
        url = fake.url
    with pytest.raises(sms.SmsError) as err:  # the server is closed: connection refused, nothing was sent
        _provider(url).send(MESSAGE, timeout=2)
    assert err.value.outcome == "transient"


def test_a_purpose_without_a_template_is_permanent():
    with FakeAliyunSms() as fake, pytest.raises(sms.SmsError) as err:
        _provider(fake.url).send(sms.SmsMessage(1, "13800000000", "other", {}), timeout=2)
    assert err.value.outcome == "permanent" and fake.received == []
