"""Keyword classification: real-looking sentences, negation, longer words, dictionary versions.

Rules: docs/field-reports.md#keyword-classification.
"""

from __future__ import annotations

import pytest
from sqlalchemy import select

from backend.db import db
from backend.models import AuditLog
from backend.services.field import keywords
from backend.services.field.default_keywords import DEFAULT_V1
from tests.factories import auth_header
from tests.support.field import post_report

CLASSIFIER = keywords.Classifier(1, DEFAULT_V1)

#: sentence → (polarity, severity, categories, the keywords that count)
TABLE = [
    # seed 001: the grid worker sees 王某 helping with waste sorting
    (
        "网格员小孙在街边遇上王某在帮助社区完成垃圾分类工作",
        "positive",
        None,
        ["helping_others", "volunteering"],
        ["帮助", "垃圾分类"],
    ),
    ("王某昨晚在酒店门口与人打架,被派出所带走", "negative", "high", ["fight"], ["打架"]),
    ("听说王某在家里聚赌,还经常酗酒", "negative", "high", ["drinking", "gambling"], ["聚赌", "酗酒"]),
    ("王某最近常去小卖部喝酒", "negative", "low", ["drinking"], ["喝酒"]),
    ("邻居反映王某喝醉后在楼道大声喧哗", "negative", "medium", ["drinking"], ["喝醉"]),
    ("王某失业在家,夫妻经常吵架", "need", "medium", ["family_conflict", "unemployment"], ["失业", "吵架"]),
    ("王某近期住院治疗,家中无人照料", "need", "low", ["illness"], ["住院"]),
    ("王某找到工作了,每天按时上班", "positive", None, ["new_job"], ["找到工作", "上班"]),
    ("王某报名参加了电工技能培训,准备考证", "positive", None, ["study"], ["技能培训", "考证"]),
    ("王某见义勇为,救起落水儿童", "positive", None, ["helping_others"], ["见义勇为"]),
    # several keywords of both kinds: any negative hit makes the report negative (the officer decides)
    ("王某上午参加志愿服务,下午却与人斗殴", "negative", "high", ["fight", "volunteering"], ["志愿服务", "斗殴"]),
    # negation before a keyword drops it
    ("王某没有打架,只是和邻居聊天", "neutral", None, [], []),
    ("王某没有和人打架", "neutral", None, [], []),
    ("王某已经不再赌博,找到工作在工地上班", "positive", None, ["new_job"], ["找到工作", "上班"]),
    ("据了解王某从未吸毒", "neutral", None, [], []),
    ("他并没有失业", "neutral", None, [], []),
    ("王某不上班,每天喝酒", "negative", "low", ["drinking"], ["喝酒"]),
    # a negation in another clause does not reach the keyword
    ("王某没有请假,今天与人打架", "negative", "high", ["fight"], ["打架"]),
    # words that contain a negation character but negate nothing
    ("王某未来打算开店,最近在上课", "positive", None, ["new_job", "study"], ["开店", "上课"]),
    ("王某表现不错,主动帮忙打扫楼道", "positive", None, ["helping_others"], ["帮忙"]),
    # keywords inside longer words that must not match
    ("王某晚上在家打架子鼓,声音较大", "neutral", None, [], []),
    ("王某参加禁毒宣传活动,了解了毒品的危害", "neutral", None, [], []),
    ("王某参加了社区组织的反赌博宣传", "neutral", None, [], []),
    ("王某在社区工作人员的帮助下办理了低保", "neutral", None, [], []),
    ("王某帮孩子填报志愿", "neutral", None, [], []),
    ("王某就业困难,希望社区介绍工作", "need", "medium", ["unemployment"], ["就业困难"]),
    ("王某没有找到工作", "need", "medium", ["unemployment"], ["没有找到工作"]),
    ("社区工作人员上门走访,王某在家休息", "neutral", None, [], []),
]


@pytest.mark.parametrize(("text", "polarity", "severity", "categories", "kept"), TABLE)
def test_classification_of_real_sentences(text, polarity, severity, categories, kept):
    got = CLASSIFIER.classify(text)
    assert (got.polarity, got.severity, got.categories) == (polarity, severity, categories), got
    assert [h["keyword"] for h in got.hits] == kept
    for h in got.hits:
        assert text[h["start"] : h["end"]] == h["keyword"]


def test_negated_and_suppressed_hits_are_reported():
    got = CLASSIFIER.classify("王某没有打架,在家打架子鼓")
    assert got.hits == []
    assert got.negated == [{"keyword": "打架", "start": 4, "negation": "没有"}]
    assert got.suppressed == [{"keyword": "打架", "start": 9, "by": "打架子鼓"}]


def test_negation_window_is_counted_in_characters():
    far = CLASSIFIER.classify("王某没有在今天上午打架")  # 没有 … 打架: five characters apart
    assert [h["keyword"] for h in far.hits] == ["打架"]
    wide = keywords.Classifier(2, {**DEFAULT_V1, "negation_window": 6})
    assert wide.classify("王某没有在今天上午打架").hits == []


def test_validation_names_every_problem():
    bad = {
        "entries": [
            {"keyword": "打架", "category": "fight", "polarity": "negative", "severity": "high"},
            {"keyword": "打架", "category": "fight", "polarity": "negative"},
            {"keyword": "赌博", "category": "Gambling", "polarity": "bad", "severity": "huge"},
        ],
        "negation_window": 42,
    }
    with pytest.raises(keywords.DomainError) as exc:
        keywords.validate(bad)
    errors = exc.value.errors
    assert set(errors) >= {
        "entries[1].keyword",
        "entries[2].category",
        "entries[2].polarity",
        "entries[2].severity",
        "negation_window",
    }


def test_admin_publishes_a_version_and_reports_use_it_at_once(client, world):
    admin = auth_header(client, "admin")
    listed = client.get("/api/v1/admin/keywords", headers=admin).get_json()
    assert [v["version"] for v in listed] == [1] and listed[0]["size"] == len(DEFAULT_V1["entries"])
    data = {
        **DEFAULT_V1,
        "entries": [
            *DEFAULT_V1["entries"],
            {"keyword": "吵闹", "category": "disturbance", "polarity": "negative", "severity": "high"},
        ],
    }
    resp = client.post("/api/v1/admin/keywords", json={"data": data, "note": "加入吵闹"}, headers=admin)
    assert resp.status_code == 201 and resp.get_json()["version"] == 2
    bad = client.post("/api/v1/admin/keywords", json={"data": {"entries": []}}, headers=admin)
    assert bad.status_code == 422 and bad.get_json()["code"] == "KEYWORD_DICTIONARY_INVALID"
    tried = client.post("/api/v1/admin/keywords/classify", json={"text": "王某在家吵闹"}, headers=admin).get_json()
    assert (tried["version"], tried["polarity"], tried["categories"]) == (2, "negative", ["disturbance"])
    report = post_report(client, auth_header(client, "gridA"), world.subjects["A"].id, "王某深夜吵闹")[0].get_json()
    assert report["categories"] == ["disturbance"] and report["status"] == "pending_review"
    assert client.get("/api/v1/admin/keywords/2", headers=admin).get_json()["data"]["entries"][-1]["keyword"] == "吵闹"
    assert client.get("/api/v1/admin/keywords/9", headers=admin).status_code == 404
    assert client.get("/api/v1/admin/keywords", headers=auth_header(client, "officerA")).status_code == 403
    with db.tx() as s:
        row = s.scalar(
            select(AuditLog).where(AuditLog.action == "keywords.publish").order_by(AuditLog.id.desc()).limit(1)
        )
        assert row.target_id == "2" and row.actor_id == world.users["admin"].id


def test_admin_publishes_suggestion_triggers(client, world):
    from backend.services.suggestions.triggers import DEFAULT_V1 as TRIGGERS

    admin = auth_header(client, "admin")
    assert [v["version"] for v in client.get("/api/v1/admin/suggestion-triggers", headers=admin).get_json()] == [1]
    changed = {"triggers": [{**t, "enabled": t["code"] != "green_stable"} for t in TRIGGERS["triggers"]]}
    resp = client.post("/api/v1/admin/suggestion-triggers", json={"data": changed}, headers=admin)
    assert resp.status_code == 201 and resp.get_json()["version"] == 2
    broken = {"triggers": [{**TRIGGERS["triggers"][0], "params": {"window_days": 0}}]}
    resp = client.post("/api/v1/admin/suggestion-triggers", json={"data": broken}, headers=admin)
    assert resp.status_code == 422 and resp.get_json()["code"] == "SUGGESTION_TRIGGERS_INVALID"
    assert "triggers[0].params" in resp.get_json()["errors"]
