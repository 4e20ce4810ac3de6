"""The transfer request state machine. Every change of state goes through `transition`, which is a
single conditional UPDATE (race-free: two maintainers acting at once change the row once) plus an
audit row in the same unit of work."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db.models.transfers import TransferEvent, TransferRequest
from bot.errors import Conflict

ALLOWED: dict[str, frozenset[str]] = {
    "draft": frozenset({"submitted", "withdrawn"}),
    "submitted": frozenset({"under_review", "rejected", "withdrawn"}),
    "under_review": frozenset({"approved", "rejected", "withdrawn"}),
    "approved": frozenset({"transferring", "done", "withdrawn"}),
    "transferring": frozenset({"done", "withdrawn"}),
    "rejected": frozenset(),
    "done": frozenset(),
    "withdrawn": frozenset(),
}

LABELS = {
    "draft": "draft (form not finished)",
    "submitted": "submitted",
    "under_review": "under review by maintainers",
    "approved": "approved: transfer steps in progress",
    "transferring": "transferring",
    "rejected": "rejected",
    "done": "done",
    "withdrawn": "withdrawn",
}


@dataclass(frozen=True)
class TransitionResult:
    changed: bool
    from_state: str
    to_state: str


def can_transition(from_state: str, to_state: str) -> bool:
    return to_state in ALLOWED.get(from_state, frozenset())


async def transition(
    session: AsyncSession,
    request: TransferRequest,
    to_state: str,
    *,
    actor_id: int | None,
    action: str,
    reason: str | None = None,
    now: datetime,
    values: dict[str, object] | None = None,
    strict: bool = True,
) -> TransitionResult:
    """Move `request` to `to_state` if it is still in the state we read.

    Returns changed=False when another event got there first (a duplicate or a race); raises Conflict
    for a transition the state machine does not allow (when `strict`). The caller commits.
    """
    from_state = request.state
    if not can_transition(from_state, to_state):
        if strict:
            raise Conflict(f"This request is {LABELS.get(from_state, from_state)}; it can't become {to_state}.")
        return TransitionResult(False, from_state, to_state)
    result = await session.execute(
        update(TransferRequest)
        .where(TransferRequest.id == request.id, TransferRequest.state == from_state)
        .values(state=to_state, updated_at=now, **(values or {}))
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        return TransitionResult(False, from_state, to_state)
    session.add(
        TransferEvent(
            request_id=request.id,
            at=now,
            actor_id=actor_id,
            action=action,
            from_state=from_state,
            to_state=to_state,
            reason=reason,
        )
    )
    request.state = to_state
    for key, value in (values or {}).items():
        setattr(request, key, value)
    return TransitionResult(True, from_state, to_state)


async def audit(
    session: AsyncSession,
    request_id: int,
    *,
    actor_id: int | None,
    action: str,
    reason: str | None = None,
    now: datetime,
) -> None:
    """Record a privileged action that does not change the state (manual verification, ticks...)."""
    session.add(TransferEvent(request_id=request_id, at=now, actor_id=actor_id, action=action, reason=reason))
