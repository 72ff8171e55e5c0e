"""A small state-machine helper for the status fields of uploads, requests, warnings and the rest."""

from __future__ import annotations

from collections.abc import Mapping

from backend.errors import DomainError


class StateMachine:
    """Named allowed transitions; an illegal one raises ILLEGAL_TRANSITION (HTTP 409)."""

    def __init__(self, name: str, transitions: Mapping[str, set[str] | frozenset[str]], initial: str) -> None:
        self.name = name
        self.transitions = {k: frozenset(v) for k, v in transitions.items()}
        self.initial = initial
        states = set(self.transitions) | {t for v in self.transitions.values() for t in v}
        if initial not in states:
            raise ValueError(f"{name}: initial state {initial} is not a state")
        self.states = frozenset(states)

    def can(self, current: str, target: str) -> bool:
        return target in self.transitions.get(current, frozenset())

    def check(self, current: str, target: str) -> None:
        if not self.can(current, target):
            raise DomainError(
                "ILLEGAL_TRANSITION",
                {
                    "machine": self.name,
                    "from": current,
                    "to": target,
                    "allowed": sorted(self.transitions.get(current, frozenset())),
                },
            )

    def apply(self, obj: object, target: str, field: str = "status") -> None:
        self.check(getattr(obj, field), target)
        setattr(obj, field, target)

    def describe(self) -> dict[str, list[str]]:
        return {k: sorted(v) for k, v in self.transitions.items()}
