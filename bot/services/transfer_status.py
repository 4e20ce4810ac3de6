"""What `/eco status` shows a requester: their requests with verification, verdict, next step and,
once approved, the tracking checklist with completion times.

Database only (no GitHub or PyPI call), so the command answers well within Discord's 3 seconds.
The checklist is read through the review service's public API, which owns those tables.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from bot.config import Settings
from bot.services.review import ITEM_BY_KEY, ReviewService, item_title
from bot.services.transfers import RequestInfo, TransferService

# States with a post-approval checklist.
CHECKLIST_STATES = ("approved", "transferring", "done")


@dataclass(frozen=True)
class ChecklistLine:
    key: str
    title: str
    done_at: datetime | None
    automatic: bool  # False: a maintainer ticks it (Read the Docs, Test PyPI)
    ticked_by_maintainer: bool = False

    @property
    def done(self) -> bool:
        return self.done_at is not None


@dataclass(frozen=True)
class StatusEntry:
    request: RequestInfo
    checklist: list[ChecklistLine] = field(default_factory=list)

    @property
    def open_items(self) -> list[ChecklistLine]:
        return [line for line in self.checklist if not line.done]

    @property
    def next_step(self) -> str:
        """The request's next step, made concrete by the checklist once there is one."""
        info = self.request
        if info.state not in ("approved", "transferring") or not self.checklist:
            return info.next_step
        left = self.open_items
        if not left:
            return "Every step is done; the bot is wrapping up."
        first = left[0]
        who = "the bot ticks it by itself once it sees it" if first.automatic else "a maintainer ticks it when done"
        more = f" ({len(left)} steps left)" if len(left) > 1 else ""
        return f"{first.title} ({who}){more}."


class TransferStatusService:
    def __init__(self, transfers: TransferService, review: ReviewService, settings: Settings) -> None:
        self._transfers = transfers
        self._review = review
        self._settings = settings

    async def for_user(self, user_id: int) -> list[StatusEntry]:
        requests = await self._transfers.list_for_user(user_id)
        return [await self._entry(info) for info in requests]

    async def _entry(self, info: RequestInfo) -> StatusEntry:
        if info.state not in CHECKLIST_STATES:
            return StatusEntry(info)
        data = await self._review.card_data(info.id)
        lines = []
        for item in data.items:
            spec = ITEM_BY_KEY.get(item.key)
            lines.append(
                ChecklistLine(
                    key=item.key,
                    title=item_title(spec, self._settings) if spec else item.key,
                    done_at=item.done_at,
                    automatic=spec.automatic if spec else False,
                    ticked_by_maintainer=item.done_by is not None,
                )
            )
        return StatusEntry(info, lines)
