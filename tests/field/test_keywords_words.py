"""Negation by words (issue 19): the text is segmented with jieba, and only a negation *word* drops a hit.

Rules: docs/field-reports.md#negation.
"""

from __future__ import annotations

import threading

import pytest

from backend.services.field import keywords, segment
from backend.services.field.default_keywords import DEFAULT_V1
from tests.factories import auth_header
from tests.support.field import events, notifications_of, post_report, warnings_of

CLASSIFIER = keywords.Classifier(1, DEFAULT_V1)
FIGHT = "今晚在村口看到他和别人打架,情绪激动"

#: sentence → (polarity, severity, keywords that count, negated keywords)
TABLE = [
    # words that begin with a negation character but negate nothing
    (FIGHT, "negative", "high", ["打架"], []),
    ("他和别人在棋牌室赌钱", "negative", "high", ["赌钱"], []),
    ("发现他给未成年人喝酒", "negative", "low", ["喝酒"], []),
    ("他带未成年人去网吧,还聚赌", "negative", "high", ["聚赌"], []),
    ("村里不少人打牌赌钱", "negative", "high", ["打牌赌钱"], []),
    ("不少人看到他酗酒", "negative", "medium", ["酗酒"], []),
    ("家中无人照看,他整天酗酒", "negative", "medium", ["酗酒"], []),
    ("趁家中无人喝醉闹事", "negative", "medium", ["喝醉"], []),
    # each negated form
    ("他没有打架,只是在旁边劝架", "neutral", None, [], ["打架"]),
    ("他不再赌博,在工地打工", "positive", None, ["打工"], ["赌博"]),
    ("据邻居说他没喝酒", "neutral", None, [], ["喝酒"]),
    ("他并未参与赌博", "neutral", None, [], ["赌博"]),
    ("他从未吸毒", "neutral", None, [], ["吸毒"]),
    ("他未参与斗殴", "neutral", None, [], ["斗殴"]),
    ("他并没有失业", "neutral", None, [], ["失业"]),
    ("劝他别打架", "neutral", None, [], ["打架"]),
    ("他尚未找到工作", "neutral", None, [], ["找到工作"]),
    ("他绝不酗酒", "neutral", None, [], ["酗酒"]),
    # a negation word in another clause, or a word ending in a negation character, negates nothing
    ("他没有请假,晚上和人打架", "negative", "high", ["打架"], []),
    ("他特别喜欢喝酒", "negative", "low", ["喝酒"], []),
]


@pytest.mark.parametrize(("text", "polarity", "severity", "kept", "negated"), TABLE)
def test_negation_is_applied_to_words(text, polarity, severity, kept, negated):
    got = CLASSIFIER.classify(text)
    assert (got.polarity, got.severity) == (polarity, severity), got
    assert [h["keyword"] for h in got.hits] == kept
    assert [n["keyword"] for n in got.negated] == negated


def test_the_fight_sentence_is_negative_high_with_the_hit_where_it_is():
    got = CLASSIFIER.classify(FIGHT)
    [hit] = got.hits
    assert (hit["category"], hit["start"], hit["end"]) == ("fight", 11, 13) and FIGHT[11:13] == "打架"
    assert got.actions == ["核实情况,约谈教育"] and got.negated == []


def test_dictionary_phrases_are_words_of_their_version_only():
    # 没工作 is a v1 phrase: segmented whole, it is a need, not 没 negating 工作
    assert [w for w, *_ in CLASSIFIER.segmenter.words("他没工作")] == ["他", "没工作"]
    assert CLASSIFIER.classify("他最近没工作").categories == ["unemployment"]
    # a version that adds 无人 as a negation word: 无人打架 is then nobody fighting; v1 is unchanged
    v2 = keywords.Classifier(2, {**DEFAULT_V1, "negations": [*DEFAULT_V1["negations"], "无人"]})
    assert v2.classify("当晚现场无人打架").polarity == "neutral"
    assert CLASSIFIER.classify("当晚现场无人打架").polarity == "negative"
    assert "无人" not in CLASSIFIER.negations


def test_the_segmenter_loads_once_under_concurrency():
    got: list[object] = []
    threads = [threading.Thread(target=lambda: got.append(segment._base())) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len({id(b) for b in got}) == 1 and got[0] is segment._base()


def test_the_fight_sentence_raises_the_officers_warning(client, world):
    sid = world.subjects["A"].id
    resp, _ = post_report(client, auth_header(client, "gridA"), sid, FIGHT)
    report = resp.get_json()
    assert resp.status_code == 201, report
    assert (report["polarity"], report["severity"], report["status"]) == ("negative", "high", "pending_review")
    assert report["categories"] == ["fight"]
    [w] = warnings_of(sid, "KEYWORD_HIGH")
    assert w.severity == "high" and {"kind": "field_report", "id": report["id"]} in w.evidence
    [note] = notifications_of(world.users["officer_A"].id, "warning")
    assert note.data["warning_id"] == w.id
    assert events(sid, "GRID_NEGATIVE") == []  # scored only when the officer confirms


def test_a_negated_report_raises_nothing(client, world):
    sid = world.subjects["A"].id
    resp, _ = post_report(client, auth_header(client, "gridA"), sid, "今晚在村口看到他,他没有打架,情绪平稳")
    report = resp.get_json()
    assert (report["polarity"], report["status"]) == ("neutral", "recorded")
    assert report["hits"] == [] and report["categories"] == []
    assert warnings_of(sid, "KEYWORD_HIGH") == []
