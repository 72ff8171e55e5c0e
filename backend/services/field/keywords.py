"""Keyword classification of field-report text: an Aho-Corasick automaton over the dictionary.

Rules: docs/field-reports.md#keyword-classification.

The dictionary is versioned data (``keyword_dictionaries``; the highest version is in force, v1 is the
default of ``field.default_keywords``), published by an admin and audited. Each process builds one automaton per
version (pyahocorasick) and keeps it; a newly published version is picked up on the next classification.

Matching: every dictionary phrase is found in one pass; a hit that lies inside a longer hit is dropped
(打架子鼓 is not 打架, 就业困难 is not 就业). Negation is by words: the text is segmented (``field.segment``,
jieba, with the version's phrases as user words) and a word that is a negation (没有, 未, 不, 无 …) ending at
most ``negation_window`` characters before a hit, in the same clause, drops it (没有打架); a word that merely
contains a negation character (别人, 未成年人, 不少, 未来) negates nothing.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass

import ahocorasick
from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.db import db
from backend.errors import DomainError, NotFound, register
from backend.models.field import KeywordDictionary
from backend.services.core import audit
from backend.services.core.actors import Actor
from backend.services.core.versioned import add_next_version
from backend.services.field.default_keywords import DEFAULT_V1
from backend.services.field.segment import Segmenter
from backend.services.identity import access
from backend.services.scoring.sql import insert_ignore

register("KEYWORD_DICTIONARY_INVALID", 422, "关键词词典不符合要求", "The keyword dictionary is not valid")
access.allow("keywords.manage", {"admin"})

POLARITIES = ("negative", "positive", "need", "ignore")
SEVERITIES = ("low", "medium", "high")
_RANK = {s: i for i, s in enumerate(SEVERITIES)}
_CATEGORY = re.compile(r"^[a-z][a-z0-9_]{0,31}$")
#: a negation never reaches across these
_CLAUSE_END = re.compile("[,.!?;:\uff0c\u3002\uff01\uff1f\uff1b\uff1a\u3001\n\r\t ]")


@dataclass(frozen=True)
class Classification:
    hits: list[dict]
    negated: list[dict]
    suppressed: list[dict]
    categories: list[str]
    polarity: str
    severity: str | None
    actions: list[str]
    version: int

    def to_json(self) -> dict:
        return {
            "hits": self.hits,
            "negated": self.negated,
            "suppressed": self.suppressed,
            "categories": self.categories,
            "polarity": self.polarity,
            "severity": self.severity,
            "actions": self.actions,
            "version": self.version,
        }


class Classifier:
    """One dictionary version compiled: the automaton, the negation words and the version's segmenter."""

    def __init__(self, version: int, data: dict) -> None:
        self.version = version
        self.window = int(data.get("negation_window", 3))
        self.automaton = ahocorasick.Automaton()
        for entry in data["entries"]:
            self.automaton.add_word(entry["keyword"], entry)
        self.automaton.make_automaton()
        self.negations = frozenset(data.get("negations", []))
        # phrases, negations and non-negations (未来, 不少 …) become words of the segmenter
        words = [e["keyword"] for e in data["entries"]]
        self.segmenter = Segmenter([*words, *self.negations, *data.get("non_negations", [])])

    def _negations(self, text: str) -> list[tuple[str, int]]:
        """(negation word, end position) of every word of ``text`` that is a negation word."""
        if not self.negations:
            return []
        return [(w, end) for w, _start, end in self.segmenter.words(text) if w in self.negations]

    def _negation_before(self, text: str, found: list[tuple[str, int]], start: int) -> str | None:
        """The last negation word ending within the window before ``start``, in the same clause."""
        last = None
        for word, end in found:
            if end <= start and start - end <= self.window and not _CLAUSE_END.search(text, end, start):
                last = word
        return last

    def classify(self, text: str) -> Classification:
        """Classify ``text``: hits with positions, negated and suppressed hits, categories, polarity, severity."""
        raw = [(end - len(e["keyword"]) + 1, end + 1, e) for end, e in self.automaton.iter(text)]
        raw.sort(key=lambda h: (h[0], -(h[1] - h[0])))
        kept, suppressed, widest = [], [], None  # widest: the earlier hit reaching furthest right
        for start, end, entry in raw:  # sorted by start, longest first: an earlier hit reaching ≥ end contains it
            if widest is not None and widest[1] >= end:
                suppressed.append({"keyword": entry["keyword"], "start": start, "by": widest[2]["keyword"]})
                continue
            kept.append((start, end, entry))
            if widest is None or end > widest[1]:
                widest = (start, end, entry)
        found = self._negations(text) if any(e["polarity"] != "ignore" for _s, _e, e in kept) else []
        hits, negated = [], []
        for start, end, entry in kept:
            if entry["polarity"] == "ignore":
                continue
            neg = self._negation_before(text, found, start)
            if neg is not None:
                negated.append({"keyword": entry["keyword"], "start": start, "negation": neg})
                continue
            hits.append({**entry, "start": start, "end": end})
        return _summarise(hits, negated, suppressed, self.version)


def _summarise(hits: list[dict], negated: list[dict], suppressed: list[dict], version: int) -> Classification:
    polarities = {h["polarity"] for h in hits}
    polarity = next((p for p in ("negative", "positive", "need") if p in polarities), "neutral")
    concerning = [h["severity"] for h in hits if h["polarity"] in ("negative", "need")]
    severity = max(concerning, key=_RANK.__getitem__) if concerning else None
    categories = sorted({h["category"] for h in hits})
    actions = list(dict.fromkeys(h["action"] for h in hits if h.get("action")))
    return Classification(hits, negated, suppressed, categories, polarity, severity, actions, version)


# --- the dictionary as versioned data ---------------------------------------------------------------------

#: the classifier of the version in force only (each holds a segmenter: a copy of jieba's word frequencies)
_CACHE: dict[tuple[int, object], Classifier] = {}
_BUILD = threading.Lock()


def ensure_default(session: Session) -> None:
    """Store the default dictionary as version 1 when none exists (safe under concurrency)."""
    row = {"version": 1, "data": DEFAULT_V1, "note": "默认词典 v1"}
    insert_ignore(session, KeywordDictionary.__table__, row, ["version"])


def current_row(session: Session) -> tuple[int, object]:
    row = session.execute(
        select(KeywordDictionary.version, KeywordDictionary.published_at)
        .order_by(KeywordDictionary.version.desc())
        .limit(1)
    ).first()
    if row is None:
        ensure_default(session)
        return current_row(session)
    return row.version, row.published_at


def current(session: Session) -> Classifier:
    """The classifier of the dictionary in force (compiled once per process and version, thread-safe)."""
    key = current_row(session)
    found = _CACHE.get(key)
    if found is None:
        data = session.scalar(select(KeywordDictionary.data).where(KeywordDictionary.version == key[0]))
        with _BUILD:
            found = _CACHE.get(key)
            if found is None:
                found = Classifier(key[0], data)
                _CACHE.clear()
                _CACHE[key] = found
    return found


def classify(session: Session, text: str) -> Classification:
    return current(session).classify(text)


def validate(data: object) -> dict:
    """A normalised copy of a dictionary, or KEYWORD_DICTIONARY_INVALID naming every problem."""
    errs: dict[str, list[str]] = {}

    def bad(path: str, msg: str) -> None:
        errs.setdefault(path, []).append(msg)

    if not isinstance(data, dict) or not isinstance(data.get("entries"), list) or not data["entries"]:
        raise DomainError("KEYWORD_DICTIONARY_INVALID", {"entries": ["a non-empty list of entries"]})
    out = {
        "entries": [],
        "negations": data.get("negations", DEFAULT_V1["negations"]),
        "negation_window": data.get("negation_window", DEFAULT_V1["negation_window"]),
        "non_negations": data.get("non_negations", DEFAULT_V1["non_negations"]),
    }
    seen: set[str] = set()
    for i, e in enumerate(data["entries"]):
        path = f"entries[{i}]"
        if not isinstance(e, dict):
            bad(path, "an object")
            continue
        kw = e.get("keyword")
        if not isinstance(kw, str) or not 1 <= len(kw.strip()) <= 20 or kw.strip() in seen:
            bad(f"{path}.keyword", "a unique phrase of 1–20 characters")
            continue
        if e.get("polarity") not in POLARITIES:
            bad(f"{path}.polarity", f"one of {', '.join(POLARITIES)}")
        if not _CATEGORY.match(str(e.get("category", ""))):
            bad(f"{path}.category", "a lower_snake_case code")
        severity = e.get("severity", "low")
        if severity not in SEVERITIES:
            bad(f"{path}.severity", f"one of {', '.join(SEVERITIES)}")
        action = e.get("action") or ""
        if not isinstance(action, str) or len(action) > 200:
            bad(f"{path}.action", "text of at most 200 characters")
        seen.add(kw.strip())
        out["entries"].append(
            {
                **{k: e.get(k) for k in ("category", "polarity")},
                "keyword": kw.strip(),
                "severity": severity,
                "action": action,
            }
        )
    for key in ("negations", "non_negations"):
        words = out[key]
        if not isinstance(words, list) or not all(isinstance(w, str) and 1 <= len(w) <= 6 for w in words):
            bad(key, "a list of words of 1–6 characters")
    window = out["negation_window"]
    if not isinstance(window, int) or isinstance(window, bool) or not 0 <= window <= 10:
        bad("negation_window", "a whole number of characters 0–10")
    if errs:
        raise DomainError("KEYWORD_DICTIONARY_INVALID", errs)
    return out


def publish(actor: Actor, data: object, note: str | None) -> KeywordDictionary:
    """Publish a validated dictionary as the next version (audited); classification uses it from now on."""
    access.require(actor, "keywords.manage")
    clean = validate(data)
    with db.tx() as s:
        ensure_default(s)
        row = add_next_version(s, KeywordDictionary, data=clean, note=note, published_by=actor.user_id)
        version = row.version
        audit.record(
            s,
            "keywords.publish",
            actor=actor,
            target_type="keyword_dictionary",
            target_id=version,
            details={"entries": len(clean["entries"]), "note": note},
        )
    return row


def versions_query():
    return select(KeywordDictionary).order_by(KeywordDictionary.version.desc())


def get_version(session: Session, version: int) -> KeywordDictionary:
    ensure_default(session)
    row = session.get(KeywordDictionary, version)
    if row is None:
        raise NotFound("keyword dictionary")
    return row
