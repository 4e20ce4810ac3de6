"""The transfer intake end to end: the real bot, the fake Discord, GitHub and PyPI."""

from __future__ import annotations

import asyncio
from urllib.parse import urlsplit

import aiohttp
import pytest
from sqlalchemy import select

from bot.db.models.transfers import TransferEvent, TransferRequest
from tests.services.test_eligibility import build_world

FORM = {
    "repository": "https://github.com/alice/flask-foo",
    "pypi_project": "Flask-Foo",
    "github_username": "alice",
    "pypi_username": "alice",
    "reason": "I maintain it alone and want it to outlive me.",
}


def instrument(harness) -> None:
    """Record outbound HTTP hosts and the cross-feature events (again after each restart)."""

    async def on_start(session, ctx, params):
        harness.outbound_hosts.append(f"{params.url.host}:{params.url.port}")

    async def submitted(rid):
        harness.transfer_events.append(("submitted", rid))

    async def updated(rid):
        harness.transfer_events.append(("updated", rid))

    trace = aiohttp.TraceConfig()
    trace.on_request_start.append(on_start)
    trace.freeze()
    harness.bot.deps.http.trace_configs.append(trace)
    harness.bot.add_listener(submitted, "on_transfer_submitted")
    harness.bot.add_listener(updated, "on_transfer_updated")


async def restart(harness) -> None:
    await harness.restart()
    instrument(harness)


async def settle(timeout: float = 10.0) -> None:
    """Let event handlers still running (other cogs react to transfer_submitted) finish before the
    harness closes the database under them."""
    busy = [
        t
        for t in asyncio.all_tasks()
        if t is not asyncio.current_task()
        and t.get_name().startswith(("discord.py: on_", "discord-ui-"))
        and "on_socket" not in t.get_name()
    ]
    if busy:
        await asyncio.wait(busy, timeout=timeout)


@pytest.fixture
async def h(harness):
    build_world(harness.github, harness.pypi)
    harness.outbound_hosts = []
    harness.transfer_events = []
    instrument(harness)
    yield harness
    await settle()
    allowed = {urlsplit(u).netloc for u in (harness.github.api_url, harness.pypi.url)}
    assert set(harness.outbound_hosts) <= allowed, f"unexpected hosts: {set(harness.outbound_hosts) - allowed}"


def custom_id(msg, action: str) -> str:
    found = [c for c, _, _ in msg.buttons() if c and c.startswith(f"eco:transfer:{action}:")]
    assert found, f"no {action} button in {msg.buttons()}"
    return found[0]


async def open_form(h, user):
    interaction = await h.slash(user, "eco transfer")
    await interaction.wait_ack()
    assert interaction.modal is not None, interaction.text()
    return interaction


async def fill(h, user, interaction, **values):
    submitted = await h.discord.submit_modal(user, interaction, values={**FORM, **values})
    msg = await submitted.wait_message()
    assert msg.ephemeral
    return submitted, msg


async def click(h, user, msg, custom_id_: str):
    interaction = await h.discord.click(user, msg, custom_id_)
    await interaction.wait_ack()
    return interaction


async def to_ready(h, user=None, **values):
    """Command → modal → saved → Continue → terms → Accept: returns the message with Submit."""
    user = user or h.USER
    _, msg = await fill(h, user, await open_form(h, user), **values)
    await click(h, user, msg, custom_id(msg, "continue"))
    await click(h, user, msg, custom_id(msg, "accept"))
    return msg


async def submit(h, msg, user=None, timeout=10.0):
    interaction = await click(h, user or h.USER, msg, custom_id(msg, "submit"))
    report = await interaction.wait_message(timeout=timeout)
    return interaction, report


async def request_row(h, **where):
    async with h.db() as session:
        stmt = select(TransferRequest).filter_by(**where)
        return (await session.scalars(stmt)).all()


async def test_happy_path_from_command_to_submitted_with_report(h):
    interaction = await open_form(h, h.USER)
    assert interaction.ack_latency < 3
    assert [c["custom_id"] for row in interaction.modal["components"] for c in row["components"]] == list(FORM)
    _, msg = await fill(h, h.USER, interaction)
    assert "step 1 saved" in msg.text() and "alice/flask-foo" in msg.text()
    rid = int(custom_id(msg, "continue").rsplit(":", 1)[1])

    await click(h, h.USER, msg, custom_id(msg, "continue"))
    terms = h.discord.get_message(msg.id).text()
    for words in ("final say", "PyPI", "not an official", "join the pallets-eco organisation first"):
        assert words in terms
    h.clock.advance(minutes=2)
    await click(h, h.USER, msg, custom_id(msg, "accept"))
    assert "ready to submit" in h.discord.get_message(msg.id).text()

    submit_click, report = await submit(h, msg)
    assert submit_click.ack_latency < 3 and report.ephemeral
    text = report.text()
    assert "submitted" in text and "Eligibility: eligible (extension)" in text
    assert "depends on flask" in text
    assert (f"eco:verify:start:{rid}", "Verify ownership", False) in report.buttons()

    [row] = await request_row(h, id=rid)
    assert row.state in ("submitted", "under_review")  # the review cog may already have picked it up
    assert row.verdict == "eligible" and row.terms_accepted_at == h.clock.now() and row.submitted_at
    assert row.requester_id == h.USER and row.reason == FORM["reason"]
    assert ("submitted", rid) in h.transfer_events
    async with h.db() as session:
        actions = [e.action for e in await session.scalars(select(TransferEvent).filter_by(request_id=rid))]
    assert actions[:4] == ["draft_created", "terms_accepted", "submit", "eligibility_checked"]


async def test_resume_after_restart_mid_form(h):
    _, msg = await fill(h, h.USER, await open_form(h, h.USER))
    old_continue = custom_id(msg, "continue")
    await restart(h)
    await click(h, h.USER, msg, old_continue)  # a button from before the restart
    assert "final say" in h.discord.get_message(msg.id).text()
    await restart(h)
    again = await h.slash(h.USER, "eco transfer")
    resume = await again.wait_message()
    assert "Your draft transfer request" in resume.text() and "alice/flask-foo" in resume.text()
    assert again.modal is None  # the draft is resumed, not started over
    await click(h, h.USER, resume, custom_id(resume, "continue"))
    await click(h, h.USER, resume, custom_id(resume, "accept"))
    _, report = await submit(h, resume)
    assert "Eligibility: eligible" in report.text()
    assert len(await request_row(h)) == 1


async def test_form_open_across_a_restart_or_a_long_pause_still_saves(h):
    """The form was on screen while the bot restarted (or the user typed for half an hour): what they
    typed is saved when they press Submit, not dropped as an unknown modal."""
    first = await open_form(h, h.USER)
    await restart(h)
    _, msg = await fill(h, h.USER, first, reason="Typed while the bot restarted.")
    assert "step 1 saved" in msg.text()
    [row] = await request_row(h)
    assert (row.repo_key, row.reason) == ("alice/flask-foo", "Typed while the bot restarted.")

    edit = await click(h, h.USER, msg, custom_id(msg, "edit"))
    h.clock.advance(minutes=30)
    await restart(h)
    _, again = await fill(h, h.USER, edit, repository="alice/cronlike", pypi_project="")
    assert "alice/cronlike" in again.text() and custom_id(again, "continue") == custom_id(msg, "continue")
    [row] = await request_row(h)
    assert row.repo_key == "alice/cronlike"


async def test_edit_reopens_the_form_with_saved_answers(h):
    _, msg = await fill(h, h.USER, await open_form(h, h.USER), pypi_project="")
    edit = await click(h, h.USER, msg, custom_id(msg, "edit"))
    defaults = {c["custom_id"]: c.get("value") for row in edit.modal["components"] for c in row["components"]}
    assert defaults["repository"] == "alice/flask-foo" and defaults["reason"] == FORM["reason"]
    _, msg2 = await fill(h, h.USER, edit, repository="alice/cronlike", pypi_project="")
    assert "alice/cronlike" in msg2.text()
    [row] = await request_row(h)
    assert row.repo_full_name == "alice/cronlike"


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ({"repository": "https://gitlab.com/alice/flask-foo"}, "Only repositories on github.com"),
        ({"repository": "http://127.0.0.1/alice/flask-foo"}, "Only repositories on github.com"),
        ({"repository": "file:///etc/passwd"}, "Only GitHub web links"),
        ({"repository": "https://github.com/alice/flask-foo/issues/1"}, "points inside a repository"),
        ({"repository": "https://github.com/alice/flask-foo/tree/main"}, "points inside a repository"),
        ({"repository": "https://gist.github.com/alice/abc123"}, "gist"),
        ({"repository": "alice/flask foo!"}, "not a valid GitHub repository name"),
        ({"repository": "@everyone/flask-foo"}, "not a valid GitHub account name"),
        ({"github_username": "alice smith"}, "not a valid GitHub username"),
        ({"pypi_project": "Flask Foo"}, "not a valid PyPI project name"),
        ({"reason": "   "}, "why"),
    ],
)
async def test_bad_input_is_refused_and_can_be_corrected(h, values, expected):
    interaction = await open_form(h, h.USER)
    _, msg = await fill(h, h.USER, interaction, **values)
    assert expected in msg.text() and msg.ephemeral
    assert await request_row(h) == []
    retry = await click(h, h.USER, msg, msg.buttons()[0][0])
    defaults = {c["custom_id"]: c.get("value") for row in retry.modal["components"] for c in row["components"]}
    for key, value in values.items():
        assert (defaults[key] or "") == value  # what they typed comes back for correcting
    _, fixed = await fill(h, h.USER, retry, **FORM)
    assert "step 1 saved" in fixed.text()


async def test_free_text_is_stored_as_typed_and_never_pings(h):
    reason = ("@everyone @here <@&900000000000000100> **not bold** [link](https://evil.example) ```" * 40)[:4000]
    reason = reason.ljust(4000, "x")
    _, msg = await fill(h, h.USER, await open_form(h, h.USER), reason=reason)
    [row] = await request_row(h)
    assert row.reason == reason and len(row.reason) == 4000
    assert not msg.mention_everyone and not msg.mention_role_ids and not msg.mention_ids
    field = next(f for f in msg.embeds[0]["fields"] if f["name"].startswith("Why"))
    assert len(field["value"]) <= 1024 and "@everyone" not in field["value"] and "\\*\\*" in field["value"]


@pytest.mark.parametrize(
    ("repository", "words"),
    [
        ("bob/flask-docs-fr", ["not accepted (translation)", "pallets-eco/flask-docs-translations"]),
        ("carlos/flask-docs-es", ["not accepted (translation)", "pallets-eco/flask-docs-translations"]),
        ("alice/cronlike", ["needs a maintainers' decision (adjacent)"]),
        ("carol/todo", ["not accepted (application)"]),
        ("carol/cookiecutter-flask-app", ["not accepted (template)"]),
        ("sh4nks/flask-caching", ["not accepted", "already in pallets-eco"]),
        ("dave/flask-old", ["not accepted", "archived"]),
        ("erin/flask-session", ["needs a maintainers' decision", "fork of fred/flask-session"]),
        # A missing or private repository is withdrawn at once: tests/resilience/test_abuse.py.
    ],
)
async def test_each_verdict_is_shown_and_stored(h, repository, words):
    owner = repository.split("/")[0]
    msg = await to_ready(h, repository=repository, pypi_project="", github_username=owner)
    _, report = await submit(h, msg)
    for word in words:
        assert word in report.text()
    [row] = await request_row(h)
    assert row.state in ("submitted", "under_review") and row.report_json  # stored, never dropped


async def test_asking_for_someone_elses_repository_gets_the_fork_path_and_is_stored(h):
    msg = await to_ready(h, repository="fred/flask-session", pypi_project="", github_username="erin")
    _, report = await submit(h, msg)
    text = report.text()
    assert "Eligibility: not accepted" in text and "belongs to fred, not to erin" in text
    assert "fork it" in text and "https://palletsprojects.com/ecosystem" in text
    [row] = await request_row(h)
    assert row.verdict == "not_accepted" and row.state in ("submitted", "under_review")


async def test_github_slow_is_acknowledged_in_time_saved_and_retried(h):
    msg = await to_ready(h)
    h.github.latency = 5.0  # longer than the configured GitHub timeout (3 s in the harness)
    interaction = await open_form(h, h.USER2)
    assert interaction.ack_latency < 3
    submit_click = await h.discord.click(h.USER, msg, custom_id(msg, "submit"))
    await submit_click.wait_ack(timeout=3)
    assert submit_click.ack_latency < 3
    for _ in range(100):  # saved within moments, long before GitHub answers
        [row] = await request_row(h)
        if row.state == "submitted":
            break
        await asyncio.sleep(0.02)
    assert row.state == "submitted" and not submit_click.messages()
    report = await submit_click.wait_message(timeout=60)
    assert "Checks postponed" in report.text()
    h.github.latency = 0
    h.clock.advance(minutes=6)
    assert await h.bot.get_cog("Transfers").service.retry_pending_checks() == [row.id]
    [row] = await request_row(h)
    assert row.verdict == "eligible"


async def test_github_down_is_saved_told_and_retried(h):
    msg = await to_ready(h)
    h.github.down = True
    _, report = await submit(h, msg)
    assert "Checks postponed" in report.text() and "retries the checks" in report.text()
    [row] = await request_row(h)
    assert row.state in ("submitted", "under_review") and row.report_error and row.report_json is None
    status = await (await h.slash(h.USER, "eco status")).wait_message()
    assert "pending" in status.text()
    h.github.down = False
    h.clock.advance(minutes=6)
    cog = h.bot.get_cog("Transfers")
    await cog.retry_checks()  # one pass of the background loop
    [row] = await request_row(h)
    assert row.verdict == "eligible" and row.report_error is None
    assert ("updated", row.id) in h.transfer_events
    status = await (await h.slash(h.USER, "eco status")).wait_message()
    assert "passed" in status.text() and "eligible" in status.text()


async def test_double_clicks_are_harmless(h):
    _, msg = await fill(h, h.USER, await open_form(h, h.USER))
    cont = custom_id(msg, "continue")
    clicks = await asyncio.gather(h.discord.click(h.USER, msg, cont), h.discord.click(h.USER, msg, cont))
    for c in clicks:
        await c.wait_ack()
    await click(h, h.USER, msg, custom_id(msg, "accept"))
    sub = custom_id(msg, "submit")
    first, second = await asyncio.gather(h.discord.click(h.USER, msg, sub), h.discord.click(h.USER, msg, sub))
    texts = [(await c.wait_message(timeout=10)).text() for c in (first, second)]
    assert sum("was already submitted" in t for t in texts) == 1
    async with h.db() as session:
        submits = (await session.scalars(select(TransferEvent).filter_by(action="submit"))).all()
    assert len(submits) == 1
    assert [e for e in h.transfer_events if e[0] == "submitted"] == [("submitted", submits[0].request_id)]


async def test_two_users_racing_for_the_same_repository(h):
    one, two = await asyncio.gather(open_form(h, h.USER), open_form(h, h.USER2))
    results = await asyncio.gather(
        h.discord.submit_modal(h.USER, one, values=FORM),
        h.discord.submit_modal(h.USER2, two, values={**FORM, "repository": "Alice/Flask-Foo.git"}),
    )
    texts = [(await r.wait_message()).text() for r in results]
    assert sum("step 1 saved" in t for t in texts) == 1, texts
    assert sum("a request for alice/flask-foo already exists and is draft" in t.lower() for t in texts) == 1, texts
    assert len(await request_row(h)) == 1


async def test_someone_else_cannot_use_my_buttons(h):
    _, msg = await fill(h, h.USER, await open_form(h, h.USER))
    other = await click(h, h.USER2, msg, custom_id(msg, "continue"))
    reply = await other.wait_message()
    assert "doesn't exist or isn't yours" in reply.text() and reply.ephemeral
    assert "final say" not in h.discord.get_message(msg.id).text()


async def test_status_and_withdraw(h):
    empty = await (await h.slash(h.USER, "eco status")).wait_message()
    assert "no transfer requests" in empty.text()
    msg = await to_ready(h)
    _, _report = await submit(h, msg)
    status = await (await h.slash(h.USER, "eco status")).wait_message()
    assert status.ephemeral and "alice/flask-foo" in status.text() and "Verify ownership" in status.text()
    assert "Created" in status.text()
    [row] = await request_row(h)
    # The next step says "press Verify ownership": the button is right there and opens the methods.
    assert (f"eco:verify:start:{row.id}", "Verify ownership", False) in status.buttons()
    methods = await (await h.discord.click(h.USER, status, f"eco:verify:start:{row.id}")).wait_message()
    assert "Repository topic" in methods.text() and methods.ephemeral

    ask = await h.slash(h.USER, "eco withdraw")
    confirm = await ask.wait_message()
    assert "Withdraw request" in confirm.text() and confirm.ephemeral
    [row] = await request_row(h)
    done = await click(h, h.USER, confirm, f"eco:transfer:withdraw:{row.id}")
    assert done.ack_latency < 3
    assert "withdrawn" in h.discord.get_message(confirm.id).text()
    [row] = await request_row(h)
    assert row.state == "withdrawn"
    assert ("updated", row.id) in h.transfer_events
    closed = await (await h.slash(h.USER, "eco status")).wait_message()
    assert not [b for b in closed.buttons() if b[0] and b[0].startswith("eco:verify:")]
    nothing = await (await h.slash(h.USER, "eco withdraw")).wait_message()
    assert "no open transfer request" in nothing.text()
    # The repository is free again.
    _, msg = await fill(h, h.USER2, await open_form(h, h.USER2))
    assert "step 1 saved" in msg.text()


def _percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(pct / 100 * (len(ordered) - 1)))]


async def test_acknowledgement_latency_with_github_fast_and_slow(h):
    """Measured (printed with -s) and bounded: Discord drops answers later than 3 s."""
    extra_users = list(range(900_000_000_000_003_001, 900_000_000_000_003_011))
    for uid in extra_users:
        h.discord.add_member(h.guild_id, uid, f"user-{uid % 1000}")
    lines = []
    for latency in (0.0, 5.0):
        h.github.latency = latency
        command = []
        for _ in range(30):
            interaction = await h.slash(h.USER, "eco transfer")
            await interaction.wait_ack()
            command.append(interaction.ack_latency)
        h.github.latency = 0.0  # the form steps are local; only the submit meets the slow GitHub
        ready = []
        for n, uid in enumerate(extra_users):
            name = f"flask-ext-{int(latency)}-{n}"
            h.github.add_repo(f"alice/{name}", files={"setup.py": f'setup(name="{name}", install_requires=["flask"])'})
            ready.append((uid, await to_ready(h, uid, repository=f"alice/{name}", pypi_project="")))
        h.github.latency = latency
        clicks = [await h.discord.click(uid, msg, custom_id(msg, "submit")) for uid, msg in ready]
        for c in clicks:
            await c.wait_ack(timeout=3)
        submit = [c.ack_latency for c in clicks]
        for c in clicks:
            await c.wait_message(timeout=60)
        for values in (command, submit):
            assert max(values) < 3
        lines.append(
            f"GitHub latency {latency:.0f} s: /eco transfer ack p50={_percentile(command, 50) * 1000:.1f} ms "
            f"p99={_percentile(command, 99) * 1000:.1f} ms (n={len(command)}); Submit ack "
            f"p50={_percentile(submit, 50) * 1000:.1f} ms p99={_percentile(submit, 99) * 1000:.1f} ms (n={len(submit)})"
        )
    print("\n" + "\n".join(lines))


async def test_verification_of_a_draft_does_not_follow_an_edit_to_another_repository(h):
    _, msg = await fill(h, h.USER, await open_form(h, h.USER))
    rid = int(custom_id(msg, "continue").rsplit(":", 1)[1])
    methods = await (await h.slash(h.USER, "eco verify")).wait_message()
    topic = await (await h.discord.click(h.USER, methods, f"eco:verify:topic:{rid}")).wait_message()
    nonce = next(w.strip("`*") for w in topic.text().split() if "pallets-eco-verify-" in w)
    h.github.set_topics("alice/flask-foo", [nonce])
    checked = await (await h.discord.click(h.USER, topic, f"eco:verify:check:{rid}")).wait_message()
    assert "Verified" in checked.text()
    [row] = await request_row(h, id=rid)
    assert row.verified_at is not None

    # The same draft now names a repository nobody proved anything about.
    edit = await click(h, h.USER, msg, custom_id(msg, "edit"))
    _, saved = await fill(h, h.USER, edit, repository="alice/cronlike", pypi_project="")
    assert "alice/cronlike" in saved.text()
    [row] = await request_row(h, id=rid)
    assert row.verified_at is None and row.verification_method is None and row.verification_note is None
    await click(h, h.USER, saved, custom_id(saved, "continue"))
    await click(h, h.USER, saved, custom_id(saved, "accept"))
    _, report = await submit(h, saved)
    assert (f"eco:verify:start:{rid}", "Verify ownership", False) in report.buttons()
    status = await (await h.slash(h.USER, "eco status")).wait_message()
    assert "Ownership not verified yet" in status.text() and "Ownership verified" not in status.text()
    async with h.db() as session:
        reasons = [e.reason for e in await session.scalars(select(TransferEvent).filter_by(request_id=rid))]
    assert any("alice/flask-foo" in (r or "") and "cronlike" in (r or "") for r in reasons)


async def test_withdrawing_updates_the_review_card(h):
    msg = await to_ready(h)
    _, _report = await submit(h, msg)
    [row] = await request_row(h)
    card = await h.discord.wait_for_message(h.review_channel_id, lambda m: f"Transfer request #{row.id}" in m.text())
    assert "withdrawn" not in card.text().lower()
    confirm = await (await h.slash(h.USER, "eco withdraw")).wait_message()
    await click(h, h.USER, confirm, f"eco:transfer:withdraw:{row.id}")
    assert "withdrawn" in h.discord.get_message(confirm.id).text()  # not "try again", whatever the card did
    await h.discord.wait_for_message(
        h.review_channel_id, lambda m: m.id == card.id and "withdrawn" in m.text().lower()
    )
