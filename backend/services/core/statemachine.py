"""A small state-machine helper for the status fields of uploads, requests, warnings and the rest.

Each status field declares its machine once at import time (``StateMachine("leave_request", {...})``);
``MACHINES`` then documents every allowed transition in one place, and ``check`` / ``apply`` refuse an
illegal one with ILLEGAL_TRANSITION (HTTP 409), naming the machine, both states and what is allowed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from backend.errors import DomainError

#: machine name → machine, for documentation and tests
MACHINES: dict[str, StateMachine] = {}


class StateMachine:
    """Named allowed transitions; an illegal one raises ILLEGAL_TRANSITION (HTTP 409)."""

    def __init__(self, name: str, transitions: Mapping[str, Iterable[str]], initial: str) -> None:
        self.name = name
        self.transitions = {k: frozenset(v) for k, v in transitions.items()}
        self.initial = initial
        states = set(self.transitions) | {t for v in self.transitions.values() for t in v}
        if initial not in states:
            raise ValueError(f"{name}: initial state {initial} is not a state")
        self.states = frozenset(states)
        existing = MACHINES.get(name)
        if existing is not None and existing.transitions != self.transitions:
            raise ValueError(f"state machine {name} declared twice with different transitions")
        MACHINES[name] = self

    @property
    def terminal(self) -> frozenset[str]:
        """States with no way out."""
        return frozenset(s for s in self.states if not self.transitions.get(s))

    def allowed(self, current: str) -> list[str]:
        """The states reachable from ``current`` in one step, sorted."""
        return sorted(self.transitions.get(current, frozenset()))

    def can(self, current: str, target: str) -> bool:
        return target in self.transitions.get(current, frozenset())

    def check(self, current: str, target: str) -> None:
        """Raise ILLEGAL_TRANSITION unless ``current`` → ``target`` is allowed."""
        if not self.can(current, target):
            raise DomainError(
                "ILLEGAL_TRANSITION",
                {"machine": self.name, "from": current, "to": target, "allowed": self.allowed(current)},
            )

    def apply(self, obj: object, target: str, field: str = "status") -> str:
        """Move ``obj.<field>`` to ``target`` if allowed; return the previous state."""
        previous = getattr(obj, field)
        self.check(previous, target)
        setattr(obj, field, target)
        return previous

    def describe(self) -> dict[str, list[str]]:
        """Every state with the states it may move to (terminal states map to [])."""
        return {s: self.allowed(s) for s in sorted(self.states)}
