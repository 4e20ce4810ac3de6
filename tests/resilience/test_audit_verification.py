"""Audit of the verification buttons that cost an outside call: "Check" (a repository topic: one
GitHub call) and "Verify ownership" (the PyPI check: one PyPI call). A member hammering "Check" gets a cooldown answer
and "Verify ownership" the PyPI answer of a moment ago, without the bot asking GitHub or PyPI again;
after the cooldown both ask again."""

from __future__ import annotations

import discord

from cogs.verification import StartButton
from tests.e2e.test_verification_flow import CLIENT, SECRET, add_request, open_methods, start_topic


async def test_check_button_hammered_asks_github_once_per_cooldown(make_harness):
    h = await make_harness(github=CLIENT, env=SECRET)
    h.github.add_repo("alice/flask-foo")
    rid = await add_request(h)
    message, nonce = await start_topic(h, rid)  # not added to the repository yet
    before = h.github.count("GET", r"/repos/alice/flask-foo$")
    texts = []
    for _ in range(5):
        click = await h.discord.click(h.USER, message, f"eco:verify:check:{rid}")
        texts.append((await click.wait_message()).text())
    assert h.github.count("GET", r"/repos/alice/flask-foo$") == before + 1
    assert "Not verified yet" in texts[0]
    assert all("try again in" in t and "second" in t for t in texts[1:]), texts
    # After the cooldown the member checks again (the topic is there now) and is verified.
    h.github.set_topics("alice/flask-foo", ["flask", nonce])
    h.clock.advance(seconds=h.settings.github.check_cooldown_seconds + 1)
    click = await h.discord.click(h.USER, message, f"eco:verify:check:{rid}")
    assert "Verified" in (await click.wait_message()).text()
    assert h.github.count("GET", r"/repos/alice/flask-foo$") == before + 2


async def test_verify_ownership_hammered_asks_pypi_once_per_cooldown(make_harness):
    h = await make_harness(github=CLIENT, env=SECRET)
    h.github.add_repo("alice/flask-foo")
    h.pypi.add_project("Flask-Foo", project_urls={"Source": "https://github.com/alice/flask-foo"})
    rid = await add_request(h, pypi_project="Flask-Foo", pypi_username="alice")
    # The public "Verify ownership" button the transfers cog posts, and `/eco verify` (the same answer).
    view = discord.ui.View(timeout=None)
    view.add_item(StartButton(rid))
    posted = await h.bot.get_channel(h.eco_channel_id).send("Request submitted", view=view)
    first = await open_methods(h, request=rid)
    assert "Flask-Foo" in first.text()
    asked = h.pypi.count("GET", "/pypi/")
    assert asked >= 1
    for _ in range(4):  # the same answer (PyPI's of a moment ago), without asking PyPI again
        click = await h.discord.click(h.USER, posted.id, f"eco:verify:start:{rid}")
        assert "Flask-Foo" in (await click.wait_message()).text()
    assert "Flask-Foo" in (await open_methods(h, request=rid)).text()
    assert h.pypi.count("GET", "/pypi/") == asked
    h.clock.advance(seconds=h.settings.github.check_cooldown_seconds + 1)
    again = await (await h.discord.click(h.USER, posted.id, f"eco:verify:start:{rid}")).wait_message()
    assert "Flask-Foo" in again.text()
    assert h.pypi.count("GET", "/pypi/") > asked


async def test_someone_elses_presses_do_not_use_up_the_owners_cooldown(make_harness):
    h = await make_harness(github=CLIENT, env=SECRET)
    h.github.add_repo("alice/flask-foo")
    rid = await add_request(h)
    message, _ = await start_topic(h, rid)
    for _ in range(3):
        other = await h.discord.click(h.USER2, message, f"eco:verify:check:{rid}")
        assert "try again" not in (await other.wait_message()).text()
    own = await h.discord.click(h.USER, message, f"eco:verify:check:{rid}")
    assert "Not verified yet" in (await own.wait_message()).text()
