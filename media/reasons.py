"""Reason codes of the photo checks, their messages, and the verdict they add up to (docs/photos.md#reason-codes)."""

from __future__ import annotations

from dataclasses import dataclass

ACCEPTED, SUSPECT, REJECTED = "accepted", "suspect", "rejected"


@dataclass(frozen=True)
class Reason:
    code: str
    verdict: str  # the verdict this reason forces: rejected or suspect
    message: str  # Chinese, shown in the apps
    message_en: str


REASONS: dict[str, Reason] = {}


def register(code: str, verdict: str, message: str, message_en: str) -> Reason:
    """Add a reason code (later checks, such as the face check, register theirs the same way)."""
    if verdict not in (REJECTED, SUSPECT):
        raise ValueError(f"a reason forces rejected or suspect, not {verdict!r}")
    entry = Reason(code, verdict, message, message_en)
    if REASONS.get(code, entry) != entry:
        raise ValueError(f"reason {code} registered twice with different text")
    REASONS[code] = entry
    return entry


for _r in [
    # intrinsic: the file itself is not an image we take (→ rejected)
    ("EMPTY_FILE", REJECTED, "文件为空", "The file is empty"),
    ("FILE_TOO_LARGE", REJECTED, "文件过大", "The file is larger than allowed"),
    ("UNSUPPORTED_TYPE", REJECTED, "不支持的图片格式", "Not an image of an allowed type (JPEG, PNG, HEIC, WebP, AVIF)"),
    ("TOO_MANY_PIXELS", REJECTED, "图片像素过多", "The image has more pixels than allowed"),
    ("DECOMPRESSION_BOMB", REJECTED, "图片尺寸异常(疑似解压炸弹)", "The image claims a huge size (decompression bomb)"),
    ("TRUNCATED_IMAGE", REJECTED, "图片不完整", "The image is truncated"),
    ("CORRUPT_IMAGE", REJECTED, "图片已损坏,无法读取", "The image is corrupt and cannot be read"),
    ("CORRUPT_METADATA", REJECTED, "图片元数据损坏", "The image's metadata is corrupt"),
    ("EMBEDDED_SCRIPT", REJECTED, "图片中夹带脚本或网页内容", "The file carries script or markup besides the image"),
    ("CHECK_TIMEOUT", REJECTED, "图片处理超时", "Checking the image took too long"),
    ("CHECK_OUT_OF_MEMORY", REJECTED, "图片处理所需内存过多", "Checking the image needed too much memory"),
    # intrinsic: an image, but its capture facts are missing or point to editing (→ suspect)
    ("NO_EXIF", SUSPECT, "照片没有拍摄信息(EXIF)", "The photo has no EXIF data"),
    ("NO_CAPTURE_TIME", SUSPECT, "照片没有拍摄时间", "The photo has no capture time"),
    ("NO_CAMERA_MODEL", SUSPECT, "照片没有相机型号", "The photo names no camera model"),
    ("EDITING_SOFTWARE", SUSPECT, "照片经过编辑软件处理", "The photo was saved by editing software"),
    # intrinsic: an image, but the file is more than, or other than, what was declared (→ suspect)
    ("TRAILING_DATA", SUSPECT, "图片结束后附带了其他数据", "The file carries other data after the image's end"),
    ("TYPE_MISMATCH", SUSPECT, "图片实际格式与申报的类型不符", "The image's content differs from its declared type"),
    # at attachment, against the claim (→ suspect)
    ("CAPTURE_TIME_MISMATCH", SUSPECT, "拍摄时间与申报时间不符", "The capture time does not match the claimed time"),
    ("GPS_MISMATCH", SUSPECT, "拍摄地点与申报地点不符", "The photo's location does not match the claimed location"),
    ("DUPLICATE_PHOTO", SUSPECT, "与此前提交的照片重复", "The photo repeats an earlier photo"),
]:
    register(*_r)


def verdict(codes: list[str] | tuple[str, ...]) -> str:
    """rejected if any reason rejects, else suspect if any reason fires, else accepted."""
    kinds = {REASONS[c].verdict for c in codes}
    if REJECTED in kinds:
        return REJECTED
    return SUSPECT if kinds else ACCEPTED


def describe(code: str, detail: dict | None = None) -> dict:
    """The API's form of a reason: code, Chinese message, English message (and any detail)."""
    r = REASONS[code]
    out = {"code": code, "message": r.message, "message_en": r.message_en}
    if detail:
        out["detail"] = detail
    return out
