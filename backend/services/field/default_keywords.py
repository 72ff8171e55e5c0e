"""The default keyword dictionary v1 (docs/field-reports.md#default-dictionary): policy data an admin republishes.

Polarity: ``negative`` goes to the officer for review, ``positive`` earns GRID_POSITIVE, ``need`` feeds the
suggestion engine (employment help, counselling), ``ignore`` marks a longer phrase that contains a keyword
but means something else (打架子鼓 is drumming, 反赌博 is a campaign): a hit inside a longer hit is dropped.
"""

from __future__ import annotations


def _e(keyword: str, category: str, polarity: str, severity: str, action: str = "") -> dict:
    return {"keyword": keyword, "category": category, "polarity": polarity, "severity": severity, "action": action}


def _group(keywords: str, category: str, polarity: str, severity: str, action: str = "") -> list[dict]:
    return [_e(k, category, polarity, severity, action) for k in keywords.split()]


_ENTRIES: list[dict] = [
    *_group("打架 斗殴 打人 殴打 持刀 寻衅滋事 聚众闹事 动手伤人", "fight", "negative", "high", "核实情况,约谈教育"),
    *_group("赌博 聚赌 赌钱 参赌 网络赌博 打牌赌钱", "gambling", "negative", "high", "核实情况,约谈教育"),
    *_group("酗酒 醉酒 喝醉", "drinking", "negative", "medium", "提醒节制饮酒,关注情绪"),
    *_group("酒驾 酒后闹事", "drinking", "negative", "high", "核实情况,约谈教育"),
    *_group("喝酒", "drinking", "negative", "low", "关注饮酒情况"),
    *_group("吸毒 毒品 贩毒 涉毒 吸食", "drugs", "negative", "high", "立即核实,必要时尿检"),
    *_group(
        "失业 无业 待业 没有工作 没工作 找不到工作 丢了工作 被辞退 没有找到工作 就业困难",
        "unemployment",
        "need",
        "medium",
        "就业帮扶",
    ),
    *_group("家庭矛盾 家庭纠纷 夫妻吵架 吵架 闹离婚 婆媳矛盾", "family_conflict", "need", "medium", "调解疏导"),
    *_group("家暴 家庭暴力", "family_conflict", "negative", "high", "立即核实,联系妇联"),
    *_group("生病 患病 住院 病重 身体不好 抑郁", "illness", "need", "low", "走访慰问,了解困难"),
    *_group("找到工作 新工作 上班 就业 入职 务工 打工 开店", "new_job", "positive", "low"),
    *_group("学习 培训 考证 上课 读书 技能培训", "study", "positive", "low"),
    *_group("志愿 义务劳动 公益 垃圾分类 志愿服务", "volunteering", "positive", "low"),
    *_group("帮助 帮忙 见义勇为 照顾老人 助人", "helping_others", "positive", "low"),
    # longer phrases that contain a keyword but do not mean it
    *_group(
        "打架子鼓 反赌博 禁止赌博 远离赌博 远离毒品 拒绝毒品 毒品的危害 毒品危害 禁毒宣传 帮助下 需要帮助 "
        "填报志愿 志愿填报 工作人员",
        "none",
        "ignore",
        "low",
    ),
]

DEFAULT_V1: dict = {
    "entries": _ENTRIES,
    # a negation word (a word of the segmented text, docs/field-reports.md#negation) ending at most
    # ``negation_window`` characters before a keyword, in the same clause, drops the hit
    "negations": [
        *("没有", "没", "未", "不", "无", "从不", "从未", "并未", "不再", "别"),
        # words jieba keeps whole, which the character matching used to catch by their last character
        *("从没", "尚未", "未曾", "不曾", "绝不", "决不", "毫无", "不要"),
    ],
    "negation_window": 3,
    # words that contain a negation character but negate nothing: added to the segmenter as words
    "non_negations": ["未来", "不错", "不仅", "不久", "不断", "无论", "不管", "不得不", "不少", "毫不", "不但"],
}
