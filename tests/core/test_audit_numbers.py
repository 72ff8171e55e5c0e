"""Numbers in audit details verify on both backends (PostgreSQL's JSONB writes 1e+20 back as an integer)."""

from __future__ import annotations

import pytest

from backend.db import db
from backend.services.core import audit


@pytest.mark.parametrize("value", [1e20, -3.5e16, 1e-7, 0.1 + 0.2, 2.0, 10**15, 1.5e300])
def test_numbers_in_details_keep_the_chain_verifiable(clean, value):
    with db.tx() as s:
        audit.record(s, "test.numbers", target_type="test", details={"n": value, "nested": [{"n": value}]})
    with db.tx() as s:
        result = audit.verify(s)
    assert result.ok, result
