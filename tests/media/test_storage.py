"""The storage interface on both backends: a local folder, and S3 (SeaweedFS, or TEST_S3_ENDPOINT)."""

from __future__ import annotations

import io
import urllib.request
import uuid

import pytest

from media.storage import LocalStorage, StorageError, make_storage
from tests.support.uploads import post_to_s3, s3_endpoint


@pytest.fixture(params=["local", "s3"])
def storage(request, tmp_path):
    if request.param == "local":
        return LocalStorage(tmp_path / "photos")
    ep = s3_endpoint()
    return make_storage("s3", endpoint=ep.url, bucket=ep.bucket, access_key=ep.access_key, secret_key=ep.secret_key)


def test_put_open_head_copy_delete(storage):
    key = f"originals/2026/11/{uuid.uuid4().hex}"
    assert storage.head(key) is None
    assert storage.put(key, io.BytesIO(b"photo bytes"), "image/jpeg") == 11
    assert storage.head(key) == 11
    with storage.open(key) as fh:
        assert fh.read() == b"photo bytes"
    storage.copy(key, key + "-copy")
    with storage.open(key + "-copy") as fh:
        assert fh.read() == b"photo bytes"
    storage.delete(key)
    storage.delete(key)  # deleting twice is fine
    assert storage.head(key) is None and storage.head(key + "-copy") == 11
    with pytest.raises(StorageError):
        storage.open(key)
    with pytest.raises(StorageError):
        storage.copy(key, key + "-again")
    storage.check()


def test_local_keys_never_leave_the_folder(tmp_path):
    store = LocalStorage(tmp_path / "photos")
    for bad in ("../escape", "/etc/passwd", "a/../../b", "", ".hidden", "a\\b", "x" * 300):
        with pytest.raises(StorageError):
            store.put(bad, io.BytesIO(b"x"), "image/jpeg")
    assert not (tmp_path / "escape").exists()


def test_a_failed_local_write_leaves_nothing_behind(tmp_path):
    store = LocalStorage(tmp_path / "photos")

    class Broken(io.RawIOBase):
        def read(self, n=-1):
            raise OSError("connection reset")

    with pytest.raises(OSError):
        store.put("originals/x", Broken(), "image/jpeg")
    assert store.head("originals/x") is None
    assert [p.name for p in (tmp_path / "photos").rglob("*") if p.is_file()] == []


def test_the_local_folder_signs_nothing_itself(tmp_path):
    store = LocalStorage(tmp_path / "photos")
    assert store.presign_upload("incoming/x", "image/jpeg", 10, 60) is None
    assert store.presign_read("originals/x", 60, "image/jpeg") is None


@pytest.fixture
def s3():
    ep = s3_endpoint()
    return make_storage("s3", endpoint=ep.url, bucket=ep.bucket, access_key=ep.access_key, secret_key=ep.secret_key)


def test_a_presigned_post_pins_key_type_and_exact_size(s3):
    key = f"incoming/{uuid.uuid4().hex}"
    send = s3.presign_upload(key, "image/jpeg", 10, 300)
    assert send["method"] == "POST" and send["fields"]["key"] == key
    assert post_to_s3(send, b"0123456789X", "image/jpeg")[0] == 400  # S3 itself: EntityTooLarge
    assert post_to_s3(send, b"012345678", "image/jpeg")[0] == 400  # EntityTooSmall
    assert s3.head(key) is None
    status, body = post_to_s3({**send, "fields": {**send["fields"], "key": "originals/mine"}}, b"0123456789", "x")
    assert status == 403 and s3.head("originals/mine") is None  # the policy pins the key
    other_type = {**send, "fields": {**send["fields"], "Content-Type": "text/html"}}
    assert post_to_s3(other_type, b"0123456789", "text/html")[0] == 403  # and the content type
    assert post_to_s3(send, b"0123456789", "image/jpeg")[0] in (200, 201, 204)
    assert s3.head(key) == 10


def test_a_presigned_read_link_serves_the_object(s3):
    key = f"derived/{uuid.uuid4().hex}/display.jpg"
    s3.put(key, io.BytesIO(b"\xff\xd8\xffjpeg"), "image/jpeg")
    url = s3.presign_read(key, 60, "image/jpeg", filename="upload-1.jpg")
    with urllib.request.urlopen(url, timeout=10) as resp:  # noqa: S310 - the test's own S3 server
        assert resp.read() == b"\xff\xd8\xffjpeg"
        assert resp.headers["Content-Type"] == "image/jpeg"
        assert "attachment" in resp.headers.get("Content-Disposition", "")
    tampered = url.replace("Signature=", "Signature=0")
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(tampered, timeout=10)  # noqa: S310
    assert err.value.code == 403


def test_an_unreachable_s3_is_a_storage_error():
    store = make_storage("s3", endpoint="http://127.0.0.1:9", bucket="b", access_key="k", secret_key="s")
    with pytest.raises(StorageError):
        store.check()
    with pytest.raises(StorageError):
        store.head("x")
