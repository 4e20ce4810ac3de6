"""Refused form submissions, kept so the user can reopen the form with what they typed.

An in-memory "Edit and try again" view dies after its timeout or with the process, and the user's text
with it; this keeps the text in the database for `KEEP_DAYS`, reopenable only by the user who typed it.
"""

from __future__ import annotations

import dataclasses
import json
from datetime import timedelta

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.clock import Clock
from bot.db.models.form_retries import FormRetry
from bot.errors import NotFoundError
from bot.services.transfers import TransferForm

KEEP_DAYS = 7
# The form's own limits (the modal's max_length), so a stored row never outgrows what can be shown again.
FIELD_LIMITS = {"repository": 200, "pypi_project": 200, "github_username": 39, "pypi_username": 100, "reason": 4000}


class FormRetryService:
    def __init__(self, db: async_sessionmaker[AsyncSession], clock: Clock) -> None:
        self._db = db
        self._clock = clock

    async def save(self, user_id: int, request_id: int | None, form: TransferForm) -> int:
        now = self._clock.now()
        values = {k: str(v)[: FIELD_LIMITS[k]] for k, v in dataclasses.asdict(form).items() if k in FIELD_LIMITS}
        async with self._db() as session:
            await session.execute(delete(FormRetry).where(FormRetry.created_at < now - timedelta(days=KEEP_DAYS)))
            row = FormRetry(user_id=user_id, request_id=request_id, values_json=json.dumps(values), created_at=now)
            session.add(row)
            await session.commit()
            return row.id

    async def load(self, retry_id: int, user_id: int) -> tuple[int | None, TransferForm]:
        """The draft id and the typed values; only for the user who typed them, within KEEP_DAYS."""
        async with self._db() as session:
            row = await session.get(FormRetry, retry_id)
        if row is None or row.user_id != user_id or row.created_at < self._clock.now() - timedelta(days=KEEP_DAYS):
            raise NotFoundError("That form is no longer kept. Run `/eco transfer` to fill it in again.")
        values = json.loads(row.values_json)
        return row.request_id, TransferForm(**{k: str(values.get(k, "")) for k in FIELD_LIMITS})
