"""A small state-machine helper for the status fields of uploads, requests, warnings and the rest.

Each status field declares its machine once at import time (``StateMachine("leave_request", {...})``);
``MACHINES`` then documents every allowed transition in one place (``GET /api/v1/meta/state-machines``, and
``describe`` for the description of a schema's status field), and ``check`` / ``apply`` refuse an illegal one
with ILLEGAL_TRANSITION (HTTP 409), naming the machine, both states and what is allowed in the error's ``detail``.
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
                context={"machine": self.name, "from": current, "to": target, "allowed": self.allowed(current)},
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

    def as_dict(self) -> dict:
        """The machine as ``GET /api/v1/meta/state-machines`` lists it."""
        return {
            "name": self.name,
            "initial": self.initial,
            "states": sorted(self.states),
            "terminal": sorted(self.terminal),
            "transitions": self.describe(),
            "description": describe(self),
        }


def describe(machine: StateMachine) -> str:
    """One line for a status field's schema description: the states, the initial one, each allowed move.

    e.g. ``States of "warning": open (initial) → acknowledged | handled; acknowledged → handled; handled (final).``
    """
    parts = []
    for state in [machine.initial, *sorted(machine.states - {machine.initial})]:
        name = f"{state} (initial)" if state == machine.initial else state
        targets = machine.allowed(state)
        parts.append(f"{name} → {' | '.join(targets)}" if targets else f"{name} (final)")
    return f'States of "{machine.name}": ' + "; ".join(parts) + ". Listed at GET /api/v1/meta/state-machines."
