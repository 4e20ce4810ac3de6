"""The maintainers' weekly digest (issue 17), end to end through the real client and the fakes:
`/eco digest` lists what needs attention, refuses non-maintainers (the requester too), the weekly post is
claimed once per week on the test clock, and hostile questions and repository names stay inert."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select, update

from bot.db.models.maintainers_digest import DigestQuestion, MaintainersDigestWeek
from bot.db.models.transfers import TransferRequest
from bot.services.maintainers_digest import DigestSection, waiting_requests
from cogs.maintainers_digest import fit_lines, render_digest
from tests.resilience._support import (
    APPROVE,
    assert_no_pings,
    card_of,
    settle,
    setup_transfer_world,
    submitted_request,
    wait_for,
    wait_state,
)
from tests.resilience.hostile_strings import CORPUS
from tests.resilience.test_authorization import MAINTAINERS_ONLY, TRANSFER_Q, refused, slash

QUESTION = "Does anyone know why the CI of flask-foo fails on Python 3.14?"
ANSWERED = "Is there a meeting for pallets-eco maintainers this month?"
# Monday 2026-01-05 08:00 UTC: the digest's default slot is Monday 09:00 UTC.
MONDAY_8 = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)


def digest_posts(h, *, weekly: bool | None = None):
    out = []
    for m in h.discord.messages_in(h.REVIEW_CHANNEL):
        footer = " ".join(((e.get("footer") or {}).get("text") or "") for e in m.embeds)
        if "aintainers' digest" not in footer:
            continue
        if weekly is None or weekly == ("Weekly" in footer):
            out.append(m)
    return out


def digest_cog(h):
    return h.bot.get_cog("MaintainersDigest")


async def ask(h, user: int, text: str, **kw):
    msg = await h.discord.send_message(user, h.ECO_CHANNEL, text, **kw)
    await settle(h, rounds=1)
    return msg


async def test_digest_lists_waiting_stalled_and_unanswered(make_harness):
    h = await make_harness(discord={"message_content": True})
    setup_transfer_world(h)
    waiting = await submitted_request(h, h.USER, verified=False)
    stalled = await submitted_request(h, h.USER, verified=True, repository="alice/cronlike", pypi_project="")
    await h.discord.react(h.MAINTAINER, await card_of(h, stalled), APPROVE)
    await wait_state(h, stalled, "approved")
    await settle(h)

    question = await ask(h, h.USER2, QUESTION)
    answered = await ask(h, h.USER2, ANSWERED)
    await ask(h, h.MAINTAINER, "Yes, on the first Tuesday.", reference_message_id=answered.id)
    await ask(h, h.USER2, "thanks everyone")  # not a question: nothing stored
    faq_answered = await ask(h, h.USER, TRANSFER_Q)  # the bot answers this one from the FAQ
    faq_reply = await h.discord.wait_for_message(h.ECO_CHANNEL, lambda m: m.author_id == h.bot.user.id and any(
        (c or "").startswith("eco:faq:nothelpful:") for c, _, _ in m.buttons()), after_id=faq_answered.id)
    [(not_helpful, _, _)] = [b for b in faq_reply.buttons() if (b[0] or "").startswith("eco:faq:nothelpful:")]
    await settle(h)
    async with h.db() as s:
        assert await s.scalar(select(func.count()).select_from(DigestQuestion)) == 3

    # A join-requests section (issue 16) is one function added to the providers.
    async def join_requests(ctx):
        return DigestSection("Join requests waiting", ("[#7](https://discord.com/channels/1/2/3) **newbie**",))

    digest_cog(h).service.register_section(join_requests, after=waiting_requests)

    h.clock.advance(days=8)  # the approved transfer made no progress for 8 days (> nudge_after_days=7)
    await (await h.discord.click(h.USER, faq_reply, not_helpful)).wait_message()  # this week
    interaction = await h.slash(h.MAINTAINER, "eco digest", channel_id=h.REVIEW_CHANNEL)
    answer = await interaction.wait_message(predicate=lambda m: "Posted" in m.text())
    assert answer.ephemeral
    [post] = digest_posts(h, weekly=False)
    text = post.text()
    assert "Transfer requests waiting for review (1)" in text and f"#{waiting}" in text
    assert "**alice/flask-foo**" in text
    assert "Approved transfers that stalled (1)" in text and "**alice/cronlike**" in text
    assert "stuck at **requester joins org**" in text and "8 days" in text
    assert "Questions unanswered" in text and QUESTION.split(" why")[0] in text
    question_link = f"https://discord.com/channels/{h.GUILD}/{h.ECO_CHANNEL}/{question.id}"
    assert question_link in text
    assert "meeting" not in text  # answered by a reply
    assert "can't read messages" not in text
    assert "transfer my extension" not in text  # the bot answered it
    assert "Org invitations pending or expired (1)" in text and "to invite by hand" in text
    topic = not_helpful.rsplit(":", 1)[1]
    assert "marked \u201cnot helpful\u201d this week (1)" in text
    assert f"[{topic}](https://discord.com/channels/{h.GUILD}/{h.ECO_CHANNEL}/{faq_reply.id})" in text
    assert "Join requests waiting (1)" in text and text.index("Join requests") < text.index("Approved transfers")
    assert_no_pings(post)


async def test_digest_refused_to_non_maintainers_and_the_requester(harness):
    h = harness
    setup_transfer_world(h)
    await submitted_request(h, h.USER, verified=False)
    for user in (h.USER2, h.USER):  # a bystander, and the requester of the waiting request
        await refused(h, slash(h, user, "eco digest"), MAINTAINERS_ONLY)
    assert digest_posts(h) == []


async def test_without_message_content_it_says_so_and_still_sees_mentions(harness):
    h = harness  # discord.message_content is off by default
    me = h.bot.user.id
    # A question the FAQ has no answer for ("where do I report a bug" has one since the FAQ learnt it).
    await ask(h, h.USER2, f"<@{me}> why does flask-foo crash on startup with gunicorn?", mentions=[me])
    await ask(h, h.USER2, QUESTION)  # arrives without content: invisible
    h.clock.advance(hours=25)
    await (await h.slash(h.MAINTAINER, "eco digest")).wait_message(predicate=lambda m: "Posted" in m.text())
    [post] = digest_posts(h)
    assert "crash on startup with gunicorn" in post.text()
    assert "message_content" in post.text() and "can't read messages" in post.text()
    assert "CI of flask-foo" not in post.text()


async def test_a_quiet_week_posts_one_short_line(make_harness):
    h = await make_harness(discord={"message_content": True})
    await (await h.slash(h.MAINTAINER, "eco digest")).wait_message(predicate=lambda m: "Posted" in m.text())
    [post] = digest_posts(h)
    assert "Nothing needs the maintainers' attention this week." in post.text()
    assert not post.embeds[0].get("fields")


async def test_weekly_post_once_per_week_on_the_test_clock(make_harness):
    h = await make_harness(discord={"message_content": True})
    h.clock._now = MONDAY_8
    cog = digest_cog(h)
    assert await cog.post_weekly() is False  # 08:00, due at 09:00
    h.clock.advance(hours=1)
    assert await cog.post_weekly() is True
    assert await cog.post_weekly() is False
    await h.restart()
    assert await digest_cog(h).post_weekly() is False
    assert len(digest_posts(h, weekly=True)) == 1
    h.clock.advance(days=7)  # next Monday 09:00
    assert await digest_cog(h).post_weekly() is True
    assert len(digest_posts(h, weekly=True)) == 2


async def test_a_claim_whose_process_died_is_taken_over_once(make_harness):
    h = await make_harness(discord={"message_content": True})
    h.clock._now = MONDAY_8 + timedelta(hours=1)
    svc = digest_cog(h).service
    # A process claimed the week, then died before sending anything.
    assert await svc.claim_week("2026-W02") is not None
    assert await digest_cog(h).post_weekly() is False  # the claim is fresh: not ours
    h.clock.advance(minutes=11)  # past the 10-minute lease
    assert await digest_cog(h).post_weekly() is True
    assert len(digest_posts(h, weekly=True)) == 1

    # The next week: a process sent the post and died before recording it. The taker finds the post.
    h.clock.advance(days=7)
    assert await digest_cog(h).post_weekly() is True
    async with h.db() as s:
        await s.execute(update(MaintainersDigestWeek).where(MaintainersDigestWeek.week_key == "2026-W03")
                        .values(posted_at=None, message_id=None))
        await s.commit()
    h.clock.advance(minutes=11)
    assert await digest_cog(h).post_weekly() is False
    assert len(digest_posts(h, weekly=True)) == 2
    async with h.db() as s:
        row = await s.get(MaintainersDigestWeek, "2026-W03")
    assert row.posted_at is not None and row.message_id == digest_posts(h, weekly=True)[-1].id


async def test_hostile_questions_and_repo_names_stay_inert(make_harness):
    h = await make_harness(discord={"message_content": True})
    setup_transfer_world(h)
    rid = await submitted_request(h, h.USER, verified=False)
    hostile = [text for _, text in CORPUS]
    async with h.db() as s:
        await s.execute(update(TransferRequest).where(TransferRequest.id == rid)
                        .values(repo_owner=f"<@&{h.MAINTAINER_ROLE}> @everyone [x](https://evil.example)",
                                repo_name="**bold** `x` )(https://evil.example"))
        await s.commit()
    count = 0
    for text in hostile:
        question = f"why {text}?"
        await h.discord.send_message(h.USER2, h.ECO_CHANNEL, question)
        count += 1
    await settle(h)
    h.clock.advance(hours=25)
    await (await h.slash(h.MAINTAINER, "eco digest")).wait_message(predicate=lambda m: "Posted" in m.text())
    [post] = digest_posts(h)
    assert_no_pings(post)
    embed = post.embeds[0]
    total = sum(len(f["name"]) + len(f["value"]) for f in embed.get("fields", [])) + len(embed["title"])
    assert total <= 6000 and all(len(f["value"]) <= 1024 for f in embed["fields"])
    text = post.text()
    assert "and " in text and " more" in text  # far more questions than fit: the rest is counted
    assert "](https://evil.example)" not in text.replace("\\]", "")  # no live masked link from outside text
    assert "@everyone" not in text.replace("@\u200beveryone", "")
    assert f"<@&{h.MAINTAINER_ROLE}>" not in text


def test_fit_lines_counts_what_is_left_out():
    lines = tuple(f"line {n} " + "x" * 90 for n in range(40))
    text = fit_lines(lines, 1024)
    assert len(text) <= 1024 and text.endswith(" more")
    shown = text.count("\n")
    assert f"and {40 - shown} more" in text


def test_render_fits_discord_limits_with_many_big_sections():
    from bot.services.maintainers_digest import Digest

    line = "[#1](https://discord.com/channels/1/2/3) **" + "y" * 250 + "** \u00b7 waiting 3 days"
    sections = tuple(DigestSection(f"Section {n}", (line,) * 30) for n in range(12))
    embed = render_digest(Digest("2026-W02", sections), weekly=True).to_dict()
    total = len(embed["title"]) + len(embed["footer"]["text"]) + sum(
        len(f["name"]) + len(f["value"]) for f in embed["fields"])
    assert total <= 6000 and len(embed["fields"]) <= 25
    assert embed["fields"][-1]["name"] == "More" and "sections" in embed["fields"][-1]["value"]


async def test_question_table_is_bounded(make_harness):
    h = await make_harness(discord={"message_content": True}, digest={"max_questions": 5})
    for n in range(9):
        await h.discord.send_message(h.USER2, h.ECO_CHANNEL, f"How do I fix problem number {n}?")
    await settle(h)

    async def count():
        async with h.db() as s:
            return await s.scalar(select(func.count()).select_from(DigestQuestion))

    await wait_for(lambda: _eq(count(), 5), what="the question table pruned to 5")


async def _eq(value, expected):
    return (await value) == expected


def test_digest_settings_are_checked():
    import pytest

    from bot.config import ConfigError, parse_settings

    base = {"discord": {"guild_id": 1, "eco_channel_id": 2, "review_channel_id": 3, "maintainer_role_ids": [4]}}
    ok = parse_settings(base | {"digest": {"weekday": 6, "hour": 23}}, {"DISCORD_TOKEN": "x"})
    assert (ok.digest.weekday, ok.digest.hour, ok.digest.enabled) == (6, 23, True)
    for bad, key in (({"weekday": 7}, "digest.weekday"), ({"hour": 24}, "digest.hour"),
                     ({"claim_lease_minutes": 0}, "claim_lease_minutes"), ({"max_questions": 0}, "max_questions")):
        with pytest.raises(ConfigError, match=key):
            parse_settings(base | {"digest": bad}, {"DISCORD_TOKEN": "x"})


async def test_disabled_weekly_digest_stays_quiet_but_answers_on_demand(make_harness):
    h = await make_harness(digest={"enabled": False})
    h.clock._now = MONDAY_8 + timedelta(hours=2)
    assert await digest_cog(h).post_weekly() is False
    assert digest_posts(h) == []
    await (await h.slash(h.MAINTAINER, "eco digest")).wait_message(predicate=lambda m: "Posted" in m.text())
    assert len(digest_posts(h, weekly=False)) == 1
