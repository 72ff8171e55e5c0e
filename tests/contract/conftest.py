"""schemathesis 4.32's lazy pytest integration reads and sets ``node._nodeid``, which pytest 9.2 renamed
(``_id``, a structured NodeId). This gives the old name back as a view of the new one, for these tests only
(the pytest plugin loads every conftest of the run, so it is installed here rather than globally by hand)."""

from __future__ import annotations

from _pytest.nodeid import coerce_node_id
from _pytest.nodes import Node

if not hasattr(Node, "_nodeid"):
    Node._nodeid = property(  # type: ignore[attr-defined]
        lambda self: str(self._id),
        lambda self, value: setattr(self, "_id", coerce_node_id(value)),
    )
