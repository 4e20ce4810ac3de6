"""Decides when the bot speaks to newcomers: welcomes and automatic FAQ answers, with restraint.

`consider()` runs for every message in the eco channel, so it is synchronous and in-memory: no
database access on the hot path. Durable state (who was welcomed, which answers were given) is
loaded once at start and written only when the bot actually speaks."""

from __future__ import annotations

import collections
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.clock import Clock
from bot.config import FaqSettings
from bot.db.models.faq import FaqFeedback, FaqReply, WelcomedMember
from bot.services.faq import FaqBook, FaqTopic, is_question_like

DAY = timedelta(days=1)
SHIPPED_FAQ = Path(__file__).resolve().parent.parent / "data" / "faq.toml"


@dataclass(frozen=True)
class IncomingMessage:
    message_id: int
    channel_id: int
    guild_id: int
    author_id: int
    author_is_bot: bool
    author_is_maintainer: bool
    content: str  # empty without the message-content intent, unless the bot was mentioned
    mentions_bot: bool = False
    in_thread: bool = False
    thread_started_by_bot: bool = False
    reply_to_message_id: int | None = None
    mentioned_user_ids: frozenset[int] = frozenset()
    # When the author joined the server (the message's member payload); None when Discord didn't say.
    joined_at: datetime | None = None
    # An ordinary message or a reply. Member-join, pin and thread-created notices are system messages:
    # they are nobody's post, and Discord refuses a reply to them.
    ordinary: bool = True


@dataclass(frozen=True)
class Decision:
    welcome: bool = False
    topic: FaqTopic | None = None
    # Mentioned the bot but no confident answer: point them at /eco faq instead of staying silent.
    unsure: bool = False
    # With `unsure`: topics the question nearly matched, offered as "did you mean" buttons (at most 3).
    suggestions: tuple[FaqTopic, ...] = ()
    # Position of the message among those considered: a maintainer's mention with a later
    # position came after it (a count, not a time, so two messages in one instant stay ordered).
    order: int = 0

    @property
    def speaks(self) -> bool:
        return self.welcome or self.topic is not None or self.unsure


@dataclass(frozen=True)
class TopicStats:
    topic_id: str
    title: str
    answers: int
    not_helpful: int


class NewcomerService:
    def __init__(
        self,
        db: async_sessionmaker[AsyncSession],
        faq: FaqBook,
        clock: Clock,
        settings: FaqSettings,
    ) -> None:
        self._db = db
        self.faq = faq
        self._clock = clock
        self._settings = settings
        self._welcomed: set[tuple[int, int]] = set()
        self._topic_channel_last: dict[tuple[str, int], datetime] = {}
        self._user_last: dict[int, datetime] = {}
        # "Which question?" pointers have their own limits: they must not use up a member's one answer a day.
        self._unsure_channel_last: dict[int, datetime] = {}
        self._unsure_user_last: dict[int, datetime] = {}
        self._welcome_times: collections.deque[datetime] = collections.deque()
        self._maintainer_replied: collections.OrderedDict[int, None] = collections.OrderedDict()
        # (channel, member) -> when a maintainer last addressed that member there by mention: an
        # answer typed as "@member see ..." instead of Discord's reply also counts as replying first.
        self._maintainer_mentioned: collections.OrderedDict[tuple[int, int], int] = collections.OrderedDict()
        self._order = 0
        # `/eco faq user:` mentions: when each member last gave one, and when each member was last named.
        self._ping_by: dict[int, datetime] = {}
        self._ping_to: dict[int, datetime] = {}

    async def load(self) -> None:
        since = self._clock.now() - max(DAY, timedelta(minutes=self._settings.cooldown_minutes))
        async with self._db() as session:
            rows = await session.execute(select(WelcomedMember.guild_id, WelcomedMember.user_id))
            self._welcomed = {(g, u) for g, u in rows}
            replies = await session.execute(
                select(FaqReply.topic_id, FaqReply.channel_id, FaqReply.user_id, FaqReply.at).where(
                    FaqReply.automatic.is_(True), FaqReply.at >= since
                )
            )
            for topic_id, channel_id, user_id, at in replies:
                self._remember_answer(topic_id, channel_id, user_id, at)

    # ----- the hot path ---------------------------------------------------------------------------

    def consider(self, msg: IncomingMessage) -> Decision:
        self._order += 1
        if msg.author_is_bot or not msg.ordinary:
            return Decision()
        if msg.author_is_maintainer:
            if msg.reply_to_message_id is not None:
                self._note_maintainer_reply(msg.reply_to_message_id)
            if msg.mentioned_user_ids:
                self._note_maintainer_mentions(msg.channel_id, msg.mentioned_user_ids)
            return Decision()
        if msg.in_thread and not msg.thread_started_by_bot and not self._settings.answer_in_foreign_threads:
            return Decision()
        now = self._clock.now()
        welcome = self._settings.welcome and not msg.in_thread and self._take_welcome(msg, now)
        topic = None
        unsure = False
        suggestions: tuple[FaqTopic, ...] = ()
        if msg.content and self._settings.auto_answer:
            match = self.faq.match(msg.content)
            if match is not None and self._take_answer(match.topic.id, msg.channel_id, msg.author_id, now):
                topic = match.topic
            elif match is None and msg.mentions_bot:
                unsure = self._take_unsure(msg, now)
                if unsure:  # only when asked directly: never costs anything on ordinary chat
                    suggestions = tuple(m.topic for m in self.faq.suggest(msg.content))
        return Decision(welcome=welcome, topic=topic, unsure=unsure, suggestions=suggestions, order=self._order)

    def _take_welcome(self, msg: IncomingMessage, now: datetime) -> bool:
        key = (msg.guild_id, msg.author_id)
        if key in self._welcomed or not self._joined_recently(msg.joined_at, now):
            return False
        while self._welcome_times and now - self._welcome_times[0] > timedelta(minutes=1):
            self._welcome_times.popleft()
        if len(self._welcome_times) >= self._settings.welcome_per_minute:
            return False  # a raid: stay quiet; they are welcomed on a later, calmer message
        self._welcome_times.append(now)
        self._welcomed.add(key)
        return True

    def _joined_recently(self, joined_at: datetime | None, now: datetime) -> bool:
        """Regulars posting for the first time since the bot arrived are not newcomers."""
        days = self._settings.welcome_joined_within_days
        if days <= 0:
            return True
        if joined_at is None:
            # Discord sends the member (with joined_at) with every guild message from a member, so this
            # is only a caller that had no member payload: nothing says this is a regular.
            return True
        return now - joined_at <= timedelta(days=days)

    def _take_answer(self, topic_id: str, channel_id: int, user_id: int, now: datetime) -> bool:
        cooldown = timedelta(minutes=self._settings.cooldown_minutes)
        last_topic = self._topic_channel_last.get((topic_id, channel_id))
        if last_topic is not None and now - last_topic < cooldown:
            return False
        last_user = self._user_last.get(user_id)
        if last_user is not None and now - last_user < DAY:
            return False
        # Reserve the slot now: a burst of the same question gets one answer, not many.
        self._remember_answer(topic_id, channel_id, user_id, now)
        return True

    def _take_unsure(self, msg: IncomingMessage, now: datetime) -> bool:
        # "thanks @bot" or an emoji is no question: only a question-like message gets the pointer.
        if not is_question_like(msg.content):
            return False
        cooldown = timedelta(minutes=self._settings.cooldown_minutes)
        last_channel = self._unsure_channel_last.get(msg.channel_id)
        last_user = self._unsure_user_last.get(msg.author_id)
        if (last_channel is not None and now - last_channel < cooldown) or (
            last_user is not None and now - last_user < DAY
        ):
            return False
        self._unsure_channel_last[msg.channel_id] = now
        self._unsure_user_last[msg.author_id] = now
        return True

    def take_ping(self, invoker_id: int, target_id: int) -> float:
        """Reserve a mention of `target_id` by `invoker_id` through `/eco faq`; returns 0, or the seconds
        to wait: one mention per invoking member and one per mentioned member per `ping_cooldown_seconds`,
        so nobody can use the bot to ping a member over and over."""
        window = timedelta(seconds=self._settings.ping_cooldown_seconds)
        now = self._clock.now()
        last = [t for t in (self._ping_by.get(invoker_id), self._ping_to.get(target_id)) if t is not None]
        wait = max((t + window - now for t in last), default=timedelta(0))
        if wait > timedelta(0):
            return wait.total_seconds()
        for table in (self._ping_by, self._ping_to):
            if len(table) > 10_000:  # forget expired entries; the tables stay small
                for key in [k for k, t in table.items() if now - t >= window]:
                    del table[key]
        self._ping_by[invoker_id] = now
        self._ping_to[target_id] = now
        return 0.0

    def release_user(self, user_id: int) -> None:
        """Give back a member's daily answer reserved for a reply that was not sent (a maintainer
        answered first). The topic's channel cooldown stays: that question was just answered."""
        self._user_last.pop(user_id, None)

    def _remember_answer(self, topic_id: str, channel_id: int, user_id: int, at: datetime) -> None:
        key = (topic_id, channel_id)
        if key not in self._topic_channel_last or self._topic_channel_last[key] < at:
            self._topic_channel_last[key] = at
        if user_id not in self._user_last or self._user_last[user_id] < at:
            self._user_last[user_id] = at

    def _note_maintainer_reply(self, message_id: int) -> None:
        self._maintainer_replied[message_id] = None
        while len(self._maintainer_replied) > 5000:
            self._maintainer_replied.popitem(last=False)

    def _note_maintainer_mentions(self, channel_id: int, user_ids: frozenset[int]) -> None:
        for user_id in user_ids:
            key = (channel_id, user_id)
            self._maintainer_mentioned.pop(key, None)
            self._maintainer_mentioned[key] = self._order
        while len(self._maintainer_mentioned) > 5000:
            self._maintainer_mentioned.popitem(last=False)

    def maintainer_replied(
        self,
        message_id: int,
        *,
        channel_id: int | None = None,
        author_id: int | None = None,
        after: int | None = None,
    ) -> bool:
        """Whether a maintainer answered the message: by replying to it, or (given its channel,
        author and `Decision.order`) by mentioning its author in that channel after it."""
        if message_id in self._maintainer_replied:
            return True
        if channel_id is None or author_id is None or after is None:
            return False
        at = self._maintainer_mentioned.get((channel_id, author_id))
        return at is not None and at > after

    def note_maintainer_answer(self, message_id: int) -> None:
        """A maintainer answered this message by hand ("Answer with FAQ"): an automatic answer
        still waiting out its delay stays quiet, so the member doesn't get the answer twice."""
        self._note_maintainer_reply(message_id)

    async def answered_topic(self, message_id: int) -> str | None:
        """The topic already answered to this message, if any (automatically or by hand)."""
        async with self._db() as session:
            return await session.scalar(
                select(FaqReply.topic_id).where(FaqReply.message_id == message_id).limit(1)
            )

    # ----- durable records (only when the bot speaks) ---------------------------------------------

    def release_welcome(self, guild_id: int, user_id: int) -> None:
        """The welcome could not be sent: let a later message try again."""
        self._welcomed.discard((guild_id, user_id))

    async def record_welcome(self, guild_id: int, user_id: int) -> None:
        async with self._db() as session:
            if await session.get(WelcomedMember, (guild_id, user_id)) is None:
                session.add(WelcomedMember(guild_id=guild_id, user_id=user_id, welcomed_at=self._clock.now()))
                await session.commit()

    async def record_answer(
        self,
        *,
        topic_id: str,
        channel_id: int,
        user_id: int,
        message_id: int,
        reply_message_id: int | None,
        automatic: bool,
    ) -> None:
        async with self._db() as session:
            session.add(
                FaqReply(
                    topic_id=topic_id,
                    channel_id=channel_id,
                    user_id=user_id,
                    message_id=message_id,
                    reply_message_id=reply_message_id,
                    automatic=automatic,
                    at=self._clock.now(),
                )
            )
            await session.commit()

    async def not_helpful(self, topic_id: str, reply_message_id: int, user_id: int) -> bool:
        """Count a press once per user and reply; returns False when already counted."""
        if self.faq.get(topic_id) is None:
            return False
        async with self._db() as session:
            session.add(
                FaqFeedback(
                    topic_id=topic_id, reply_message_id=reply_message_id, user_id=user_id, at=self._clock.now()
                )
            )
            try:
                await session.commit()
            except IntegrityError:
                return False
        return True

    async def stats(self) -> list[TopicStats]:
        async with self._db() as session:
            answers = dict(
                (await session.execute(select(FaqReply.topic_id, func.count()).group_by(FaqReply.topic_id))).all()
            )
            unhelpful = dict(
                (
                    await session.execute(select(FaqFeedback.topic_id, func.count()).group_by(FaqFeedback.topic_id))
                ).all()
            )
        rows = [
            TopicStats(t.id, t.title, answers.get(t.id, 0), unhelpful.get(t.id, 0)) for t in self.faq.topics
        ]
        return sorted(rows, key=lambda r: (-r.not_helpful, -r.answers, r.topic_id))
