"""The default rule set v1 (docs/score.md#default-rules): every number here is policy an admin can republish."""

from __future__ import annotations

_DIM_NAMES = {
    "risk": "风险评估",
    "employment": "就业就学",
    "behaviour": "日常行为",
    "compliance": "矫正管理",
    "public_welfare": "公益活动",
    "education": "修心教育",
}


def _rule(dimension: str | None, points: int | None, name: str, **kw) -> dict:
    return {"dimension": dimension, "points": points, "name": name, **kw}


DEFAULT_V1: dict = {
    # each dimension: maximum and initial value (85 % of the maximum); risk starts from the risk assessment
    "dimensions": {d: {"name": n, "max": 100, "initial": 85} for d, n in _DIM_NAMES.items()},
    "risk_initial": {"low": 100, "medium": 70, "high": 40},
    # public base = round(percent % × provincial score), at most max; provisional until the first import
    "public_base": {"percent": 40, "max": 400, "provisional_provincial": 700},
    "grades": [
        {
            "code": "excellent",
            "name": "信用优秀",
            "min": 800,
            "max": 1000,
            "colour": "green",
            "benefits": ["leave_green_channel", "flexible_supervision", "loan_repair"],
        },
        {
            "code": "good",
            "name": "信用良好",
            "min": 750,
            "max": 799,
            "colour": "blue",
            "benefits": ["leave_fast_track", "loan_repair"],
        },
        {"code": "fair", "name": "信用一般", "min": 700, "max": 749, "colour": "yellow", "benefits": ["loan_repair"]},
        {"code": "poor", "name": "信用较差", "min": 650, "max": 699, "colour": "orange", "benefits": []},
        {"code": "severe", "name": "失信严重", "min": 0, "max": 649, "colour": "red", "benefits": [], "focus": True},
    ],
    "benefits": {
        "leave_green_channel": {"name": "请假绿色通道", "description": "生产经营外出七日以内提交即批准"},
        "flexible_supervision": {"name": "柔性监管", "description": "报到间隔放宽一级"},
        "leave_fast_track": {"name": "外出审批快速通道", "description": "外出申请一日内办结"},
        "loan_repair": {"name": "贷款修复", "description": "可申请信用贷款修复渠道"},
    },
    # city credit conversion (seed 000): Hangzhou 钱江分, item 遵纪守法, at most 60 points
    "city_conversions": {
        "hangzhou": {
            "name": "杭州钱江分·遵纪守法",
            "max_points": 60,
            "percent": {"green": 80, "blue": 50, "yellow": 30, "orange": 0, "red": 0},
        }
    },
    # a merit application (我要加分) of more points than this goes to the bureau
    "merit_officer_limit": 10,
    "rules": {
        "CHECKIN_ONTIME": _rule("compliance", 1, "按时报到", monthly_cap=5),
        "CHECKIN_LATE": _rule("compliance", -2, "迟到报到", expiry_days=90),
        "CHECKIN_MISSED": _rule("compliance", -5, "未按时报到", expiry_days=180),
        "EVIDENCE_FRAUD": _rule("behaviour", -10, "提交不实照片", expiry_days=180),
        "LEAVE_RETURN_ONTIME": _rule("compliance", 1, "按时销假", monthly_cap=3),
        "LEAVE_OVERDUE": _rule("compliance", -10, "逾期未销假", expiry_days=365),
        "GEOFENCE_BREACH": _rule("compliance", -20, "擅自离开活动区域", expiry_days=365),
        "EDU_MONTH_MET": _rule("education", 3, "月度学习达标"),
        "EDU_MONTH_MISSED": _rule("education", -5, "月度学习未达标", expiry_days=180),
        "EDU_EXTRA_HOUR": _rule("education", 1, "超额学习", per="hour", monthly_cap=5),
        "SERVICE_HOUR": _rule("public_welfare", 1, "社区公益服务", per="hour", monthly_cap=10),
        "EMPLOYMENT_VERIFIED": _rule("employment", 10, "就业就学核实"),
        "GRID_POSITIVE": _rule("behaviour", 2, "网格员正面反馈", monthly_cap=6),
        "GRID_NEGATIVE": _rule("behaviour", -5, "网格员负面报告", expiry_days=180),
        "MERIT_BRAVERY": _rule("behaviour", 20, "见义勇为", merit=True),
        "MERIT_VOLUNTEER_AWARD": _rule("public_welfare", 10, "志愿服务表彰", merit=True),
        "MERIT_COMMENDATION": _rule("behaviour", 10, "受到表彰奖励", merit=True),
        "MERIT_SKILL_CERTIFICATE": _rule("employment", 5, "取得职业技能证书", merit=True),
        "MERIT_DONATION": _rule("public_welfare", 5, "公益捐赠", merit=True),
        "MANUAL_ADJUSTMENT": _rule(None, None, "人工调整", variable=True),
    },
}

#: codes that other features emit: every published rule set must keep them
REQUIRED_CODES = frozenset(c for c, r in DEFAULT_V1["rules"].items() if not r.get("merit"))
COLOURS = ("green", "blue", "yellow", "orange", "red")
