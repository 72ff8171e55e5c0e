"""Who is acting: a user with a role and assigned org units, or the system (jobs, CLI)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Actor:
    user_id: int | None
    role: str
    username: str = ""
    unit_ids: tuple[int, ...] = field(default_factory=tuple)
    subject_id: int | None = None

    @property
    def is_system(self) -> bool:
        return self.role == "system"


SYSTEM = Actor(user_id=None, role="system", username="system")
