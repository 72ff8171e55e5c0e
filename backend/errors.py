"""Domain errors and the catalogue of stable error codes with Chinese and English messages."""

from __future__ import annotations

import sys
from dataclasses import dataclass


@dataclass(frozen=True)
class ErrorCode:
    code: str
    status: int
    message: str  # Chinese, shown to the person using the app
    message_en: str


CATALOGUE: dict[str, ErrorCode] = {}
#: code → the module that registered it (docs/error-codes.md names it, so a code leads to its rule)
OWNERS: dict[str, str] = {}


def register(code: str, status: int, message: str, message_en: str) -> ErrorCode:
    """Add a code to the catalogue (feature modules register their own at import time)."""
    if not (400 <= status <= 599 and message and message_en and code.isupper()):
        raise ValueError(f"error code {code}: needs an UPPER_CASE code, a 4xx/5xx status and both messages")
    existing = CATALOGUE.get(code)
    entry = ErrorCode(code, status, message, message_en)
    if existing is not None and existing != entry:
        raise ValueError(f"error code {code} registered twice with different text")
    CATALOGUE[code] = entry
    OWNERS.setdefault(code, sys._getframe(1).f_globals.get("__name__", "?"))
    return entry


def catalogue_markdown() -> str:
    """docs/error-codes.md: every registered code (import every module first: backend.registry).

    ``make readme`` writes it; tests/backend/test_docs.py checks that it matches the running catalogue.
    """
    lines = [
        "# Error codes",
        "",
        'Every error the API answers is `{"code", "message", "message_en", "errors"}` with one of these codes.',
        "Generated from the catalogue by `make readme` (a test checks it); `GET /api/v1/meta/error-codes` serves",
        "the same list. The module is where the code is registered, beside the rule that raises it.",
        "",
        "| code | status | message | message_en | module |",
        "| --- | --- | --- | --- | --- |",
    ]
    for code in sorted(CATALOGUE):
        e = CATALOGUE[code]
        module = OWNERS.get(code, "?").replace(".", "/") + ".py"
        lines.append(f"| `{code}` | {e.status} | {e.message} | {e.message_en} | `{module}` |")
    return "\n".join(lines) + "\n"


for _c in [
    # generic HTTP-level failures
    ("BAD_REQUEST", 400, "请求格式不正确", "The request is malformed"),
    ("MALFORMED_JSON", 400, "请求体不是有效的 JSON", "The request body is not valid JSON"),
    (
        "JSON_TOO_COMPLEX",
        400,
        "请求内容嵌套过深或数字过长",
        "The JSON body is nested too deep (over 32 levels) or holds a number of over 20 digits",
    ),
    ("VALIDATION_FAILED", 400, "请求字段有误", "Some fields of the request are invalid"),
    ("UNAUTHENTICATED", 401, "请先登录", "Authentication required"),
    ("TOKEN_INVALID", 401, "登录凭证无效或已过期", "The token is invalid or expired"),
    ("FORBIDDEN", 403, "您的角色无权执行此操作", "Your role may not do this"),
    ("NOT_FOUND", 404, "未找到该记录", "Not found"),
    ("METHOD_NOT_ALLOWED", 405, "不支持该请求方法", "Method not allowed"),
    (
        "NOT_ACCEPTABLE",
        406,
        "该接口不提供所要求的格式(如 CSV)",
        "This endpoint cannot answer in the requested format (e.g. CSV)",
    ),
    ("CONFLICT", 409, "与当前状态冲突", "Conflicts with the current state"),
    ("ILLEGAL_TRANSITION", 409, "当前状态下不能执行该操作", "This action is not allowed in the current state"),
    (
        "IDEMPOTENCY_KEY_REUSED",
        409,
        "同一请求编号已用于不同内容",
        "The idempotency key was used for a different request",
    ),
    ("PAYLOAD_TOO_LARGE", 413, "请求内容过大", "The request is too large"),
    ("UNSUPPORTED_MEDIA_TYPE", 415, "不支持的内容类型", "Unsupported media type"),
    ("UNPROCESSABLE", 422, "请求无法处理", "The request cannot be processed"),
    ("RATE_LIMITED", 429, "操作过于频繁,请稍后再试", "Too many requests, try again later"),
    ("INTERNAL_ERROR", 500, "服务器内部错误", "Internal server error"),
    ("SERVICE_UNAVAILABLE", 503, "服务暂时不可用,请稍后再试", "A dependency is unavailable, try again later"),
    # auth
    ("INVALID_CREDENTIALS", 401, "用户名或密码错误", "Wrong username or password"),
    (
        "ACCOUNT_LOCKED",
        401,
        "登录失败次数过多,账号暂时锁定",
        "Too many failed logins; the account is locked for a while",
    ),
    ("ACCOUNT_DISABLED", 401, "账号已停用", "The account is disabled"),
    ("ACCOUNT_NOT_ACTIVATED", 401, "账号尚未激活,请使用激活码激活", "The account is not activated yet"),
    ("ACTIVATION_CODE_INVALID", 422, "激活码无效或已过期", "The activation code is invalid or expired"),
    ("REFRESH_TOKEN_INVALID", 401, "刷新凭证无效或已过期", "The refresh token is invalid or expired"),
    (
        "REFRESH_TOKEN_REUSED",
        401,
        "刷新凭证已被使用,该设备的登录已全部注销",
        "The refresh token was reused; the session was revoked",
    ),
    (
        "PASSWORD_TOO_WEAK",
        422,
        "密码至少 8 位,且需包含字母和数字",
        "The password needs 8+ characters with letters and digits",
    ),
    ("WRONG_PASSWORD", 422, "原密码不正确", "The current password is wrong"),
    ("USERNAME_TAKEN", 409, "用户名已被使用", "The username is taken"),
    # subjects and org units
    (
        "ID_NUMBER_INVALID",
        422,
        "身份证号码格式或校验位不正确",
        "The ID number is malformed or its check digit is wrong",
    ),
    ("ID_NUMBER_DUPLICATE", 409, "该身份证号码已登记", "A subject with this ID number is already enrolled"),
    ("DATES_INVALID", 422, "结束日期不能早于开始日期", "The end date is before the start date"),
    ("ORG_UNIT_INVALID", 422, "所属单位不正确", "The org unit is not valid here"),
    ("OFFICER_INVALID", 422, "负责人不是该司法所的工作人员", "The officer does not work at this office"),
    ("PURPOSE_REQUIRED", 422, "查看敏感信息必须填写用途", "A purpose is required to read sensitive data"),
    ("SUBJECT_RELEASED", 409, "该对象已解除矫正", "The subject has been released"),
]:
    register(*_c)


def field_errors(messages: object, prefix: str = "") -> dict[str, list[str]]:
    """``{field: [messages]}``: nested errors flattened to dotted paths (``items.0.kind``), every message text."""
    out: dict[str, list[str]] = {}

    def walk(path: str, value: object) -> None:
        if isinstance(value, dict):
            for k, v in value.items():
                walk(f"{path}.{k}" if path else str(k), v)
        elif isinstance(value, list | tuple):
            for i, item in enumerate(value):
                if isinstance(item, dict | list | tuple):
                    walk(f"{path}.{i}" if path else str(i), item)
                else:
                    out.setdefault(path, []).append(str(item))
        else:
            out.setdefault(path, []).append(str(value))

    walk(prefix, messages)
    return out


class DomainError(Exception):
    """A refusal with a catalogued code; the HTTP layer turns it into the API's error body."""

    def __init__(
        self,
        code: str,
        errors: dict | None = None,
        *,
        detail: str | None = None,
        retry_after: int | None = None,
        context: dict | None = None,
    ) -> None:
        """``errors`` is always ``{field: [messages]}``; any other facts (the states of an illegal transition,
        an import's report) go in ``context``, which the API's body carries under ``detail``."""
        if code not in CATALOGUE:
            raise KeyError(f"unknown error code {code}")
        super().__init__(code)
        self.code = code
        self.errors = field_errors(errors) if errors is not None else None
        self.detail = detail
        self.retry_after = retry_after
        self.context = context

    @property
    def status(self) -> int:
        return CATALOGUE[self.code].status


class NotFound(DomainError):
    """404: absent, or outside the caller's jurisdiction (the two are not told apart)."""

    def __init__(self, what: str = "") -> None:
        super().__init__("NOT_FOUND", detail=what or None)


class Conflict(DomainError):
    """409 with a specific code."""


class Forbidden(DomainError):
    """403: the caller's role may never do this."""

    def __init__(self) -> None:
        super().__init__("FORBIDDEN")
