"""The suggestion engine's output on a fixed data set, compared row by row with a committed golden file.

Rules: docs/warnings-and-suggestions.md#suggestions.

The golden file (tests/suggestions/golden/evaluate.json) was written by the engine as it stood before the
set-based rewrite of the nightly run; any change to which suggestions are made, or to a rationale (summary,
evidence, facts, trigger), shows here on either backend. To write it again after an intended change of the
rules: ``GOLDEN_WRITE=1 pytest tests/suggestions/test_golden.py`` (and review the diff).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from sqlalchemy import func, select

from backend.db import db
from backend.models.field import Suggestion
from backend.services.suggestions import engine
from tests.suggestions import golden_data

GOLDEN = Path(__file__).parent / "golden" / "evaluate.json"


def _normal(x):
    """JSON as stored and read back on either backend (key order aside)."""
    return json.loads(json.dumps(x, ensure_ascii=False, sort_keys=True))


def test_evaluate_matches_the_golden_file(clean):
    with db.tx() as s:
        golden_data.build(s)
    with db.tx() as s:
        before = s.scalar(select(func.max(Suggestion.id))) or 0
    result = engine.evaluate(golden_data.NOW)
    with db.tx() as s:
        rows = _normal(golden_data.snapshot(s, before))
    got = {"result": _normal(result), "suggestions": rows}
    if os.environ.get("GOLDEN_WRITE"):
        GOLDEN.parent.mkdir(exist_ok=True)
        GOLDEN.write_text(json.dumps(got, ensure_ascii=False, indent=1, sort_keys=True) + "\n")
    want = json.loads(GOLDEN.read_text())
    assert got["result"] == want["result"]
    assert len(rows) == len(want["suggestions"])
    for mine, theirs in zip(rows, want["suggestions"], strict=True):
        assert mine == theirs, (mine["subject_id"], mine["kind"])
    # every default trigger takes part, and a rerun finds nothing new
    assert all(isinstance(n, int) and n > 0 for n in result["per_trigger"].values()), result["per_trigger"]
    assert engine.evaluate(golden_data.NOW)["created"] == 0
