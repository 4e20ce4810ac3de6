"""The loopback fake Discord, driven by a real discord.py 2.7 `commands.Bot`.

Each test starts a small bot (defined here, not the project's bot) against the fake and checks
what both sides observe, so the fixtures built on the fake can be trusted.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import math
import time
from collections import defaultdict
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import discord
import pytest
from discord import app_commands
from discord.ext import commands

from tests.fakes.discord import FakeDiscord, Perm, patch_discord_urls, raw_request

GUILD = 900_000_000_000_000_001
CHANNEL = 900_000_000_000_000_010
ALICE = 900_000_000_000_000_100
BOB = 900_000_000_000_000_101
MAINTAINER_ROLE = 900_000_000_000_000_200


class TransferModal(discord.ui.Modal, title="Transfer request"):
    repo = discord.ui.TextInput(label="Repository", custom_id="t:repo")
    notes = discord.ui.TextInput(label="Notes", custom_id="t:notes", required=False,
                                 style=discord.TextStyle.paragraph)

    async def on_submit(self, interaction: discord.Interaction) -> None:
        await interaction.response.send_message(f"saved {self.repo.value} ({self.notes.value or 'no notes'})",
                                                ephemeral=True)


class LabelModal(discord.ui.Modal, title="Join"):
    github = discord.ui.Label(text="GitHub user", component=discord.ui.TextInput(custom_id="j:github"))

    async def on_submit(self, interaction: discord.Interaction) -> None:
        assert isinstance(self.github.component, discord.ui.TextInput)
        await interaction.response.send_message(f"hello {self.github.component.value}", ephemeral=True)


class Panel(discord.ui.View):
    def __init__(self) -> None:
        super().__init__(timeout=60)

    @discord.ui.button(label="Approve", custom_id="panel:approve", style=discord.ButtonStyle.success)
    async def approve(self, interaction: discord.Interaction, button: discord.ui.Button) -> None:
        button.disabled = True
        await interaction.response.edit_message(content=f"approved by {interaction.user.name}", view=self)


class Eco(commands.GroupCog, group_name="eco", group_description="Pallets-eco"):
    @app_commands.command(description="Ask to transfer a repository")
    async def transfer(self, interaction: discord.Interaction, repo: str) -> None:
        await interaction.response.send_message(f"transfer of {repo} noted", ephemeral=True)

    @app_commands.command(description="Slow work")
    async def slow(self, interaction: discord.Interaction) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        await asyncio.sleep(0.05)
        await interaction.followup.send(embed=discord.Embed(title="Result", description="done slowly"))

    @app_commands.command(description="Open the transfer form")
    async def form(self, interaction: discord.Interaction) -> None:
        await interaction.response.send_modal(TransferModal())

    @app_commands.command(name="label-form", description="Open the label form")
    async def label_form(self, interaction: discord.Interaction) -> None:
        await interaction.response.send_modal(LabelModal())

    @app_commands.command(description="Post a review panel")
    async def panel(self, interaction: discord.Interaction) -> None:
        await interaction.response.send_message("pending review", view=Panel())

    @app_commands.command(description="Contribute")
    async def contribute(self, interaction: discord.Interaction, project: str) -> None:
        await interaction.response.send_message(project, ephemeral=True)

    @contribute.autocomplete("project")
    async def _projects(self, interaction: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
        names = ["flask-caching", "flask-mail", "flask-session", "blinker"]
        return [app_commands.Choice(name=n, value=n) for n in names if n.startswith(current)]

    @app_commands.command(description="Greet someone")
    async def greet(self, interaction: discord.Interaction, who: discord.Member, times: int = 1) -> None:
        await interaction.response.send_message(f"hi {who.name} x{times} roles={len(who.roles)}")


class FakeTestBot(commands.Bot):
    def __init__(self, *, message_content: bool = True) -> None:
        intents = discord.Intents.default()
        intents.message_content = message_content
        super().__init__(command_prefix="!", intents=intents, guild_ready_timeout=0.1,
                         chunk_guilds_at_startup=False, allowed_mentions=discord.AllowedMentions.none())
        self.events: dict[str, list[Any]] = defaultdict(list)
        self.ready = asyncio.Event()

    async def setup_hook(self) -> None:
        await self.add_cog(Eco(), guild=discord.Object(GUILD))

        @self.tree.command(description="Where am I?")
        async def where(interaction: discord.Interaction) -> None:
            kind = "dm" if interaction.guild is None else interaction.guild.name
            await interaction.response.send_message(f"{kind} {interaction.channel_id} {interaction.user.name}")

    async def before_identify_hook(self, shard_id: int | None, *, initial: bool = False) -> None:
        return None  # discord.py sleeps 5 s before re-identifying; tests don't need to

    async def on_ready(self) -> None:
        self.ready.set()

    async def on_message(self, message: discord.Message) -> None:
        self.events["message"].append(message)

    async def on_raw_reaction_add(self, payload: discord.RawReactionActionEvent) -> None:
        self.events["reaction_add"].append(payload)

    async def on_raw_reaction_remove(self, payload: discord.RawReactionActionEvent) -> None:
        self.events["reaction_remove"].append(payload)

    async def on_thread_create(self, thread: discord.Thread) -> None:
        self.events["thread_create"].append(thread)

    async def on_resumed(self) -> None:
        self.events["resumed"].append(True)


async def wait_for(condition: Any, timeout: float = 3.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.01)


@pytest.fixture
async def fake() -> AsyncIterator[FakeDiscord]:
    fake = FakeDiscord()
    fake.add_guild(GUILD, "Pallets")
    fake.add_role(GUILD, MAINTAINER_ROLE, "maintainer", permissions=Perm.MANAGE_MESSAGES)
    fake.add_channel(GUILD, CHANNEL, "pallets-eco")
    fake.add_member(GUILD, ALICE, "alice", roles=[MAINTAINER_ROLE])
    fake.add_member(GUILD, BOB, "bob", dms_closed=True)
    async with fake:
        yield fake
        assert fake.unknown_routes == [], [(c.method, c.path) for c in fake.unknown_routes]


@contextlib.asynccontextmanager
async def running_bot(fake: FakeDiscord, **kwargs: Any) -> AsyncIterator[FakeTestBot]:
    bot = FakeTestBot(**kwargs)
    with patch_discord_urls(fake):
        async with bot:
            task = asyncio.create_task(bot.start(fake.token))
            try:
                await asyncio.wait_for(bot.ready.wait(), 5)
                yield bot
            finally:
                await bot.close()
                with contextlib.suppress(asyncio.CancelledError):
                    await asyncio.wait_for(task, 5)


@pytest.fixture
async def bot(fake: FakeDiscord) -> AsyncIterator[FakeTestBot]:
    async with running_bot(fake) as bot:
        await bot.tree.sync(guild=discord.Object(GUILD))
        yield bot


async def test_login_ready_and_guild_create(fake: FakeDiscord) -> None:
    started = time.monotonic()
    async with running_bot(fake) as bot:
        assert time.monotonic() - started < 2
        guild = bot.get_guild(GUILD)
        assert guild is not None and guild.name == "Pallets"
        assert guild.me is not None and guild.me.bot
        channel = guild.get_channel(CHANNEL)
        assert isinstance(channel, discord.TextChannel)
        assert channel.permissions_for(guild.me).send_messages
        assert not channel.permissions_for(guild.me).manage_messages
        assert bot.application_id == fake.application_id
    assert fake.identify_count == 1
    assert fake.identified_intents[0] & (1 << 15)
    assert [c.path for c in fake.calls[:2]] == ["/users/@me", "/oauth2/applications/@me"]
    assert all(c.had_auth for c in fake.calls[:2])


async def test_bot_permissions_reach_discord_py(fake: FakeDiscord) -> None:
    fake.set_bot_permissions(GUILD, Perm.MANAGE_MESSAGES | Perm.MANAGE_ROLES)
    async with running_bot(fake) as bot:
        guild = bot.get_guild(GUILD)
        assert guild is not None
        assert guild.get_channel(CHANNEL).permissions_for(guild.me).manage_messages  # type: ignore[union-attr]


async def test_tree_sync_is_counted_and_commands_stored(fake: FakeDiscord, bot: FakeTestBot) -> None:
    assert fake.sync_calls == 1
    (eco,) = fake.commands_in(GUILD)
    assert eco["name"] == "eco"
    assert {o["name"] for o in eco["options"]} >= {"transfer", "slow", "form", "panel"}
    inter = await fake.slash(ALICE, "eco transfer", {"repo": "flask-foo"})
    assert inter.payload["data"]["id"] == eco["id"]
    assert inter.payload["data"]["guild_id"] == str(GUILD)


async def test_slash_subcommand_answered_ephemerally(fake: FakeDiscord, bot: FakeTestBot) -> None:
    inter = await fake.slash(ALICE, "eco transfer", {"repo": "flask-foo"}, channel_id=CHANNEL)
    ack = await inter.wait_ack()
    assert ack.type == 4
    assert inter.ack_latency is not None and inter.ack_latency < 1
    assert inter.ephemeral and inter.response_message is not None
    assert "transfer of flask-foo noted" in inter.text()
    # Ephemeral: not dispatched over the gateway, not in the channel's history.
    assert not [e for e in fake.dispatched if e["t"] == "MESSAGE_CREATE"]
    assert fake.messages_in(CHANNEL) == []


async def test_slash_with_member_and_int_options(fake: FakeDiscord, bot: FakeTestBot) -> None:
    inter = await fake.slash(ALICE, "eco greet", {"who": fake.user_option(BOB), "times": 3})
    msg = await inter.wait_message()
    assert msg.content == "hi bob x3 roles=1"  # @everyone only
    assert not msg.ephemeral
    public = await fake.wait_for_message(CHANNEL)
    assert public.id == msg.id


async def test_deferred_response_then_followup(fake: FakeDiscord, bot: FakeTestBot) -> None:
    inter = await fake.slash(ALICE, "eco slow")
    assert (await inter.wait_ack()).type == 5
    msg = await inter.wait_message()
    # The first followup resolves the "thinking" message and keeps the deferral's ephemeral flag.
    assert msg is inter.response_message and not msg.loading and msg.ephemeral
    assert "done slowly" in inter.text() and "Result" in inter.text()
    assert inter.followups == []


async def test_view_button_click_edits_message(fake: FakeDiscord, bot: FakeTestBot) -> None:
    inter = await fake.slash(ALICE, "eco panel")
    panel = await inter.wait_message()
    assert panel.buttons() == [("panel:approve", "Approve", False)]
    click = await fake.click(ALICE, panel, "panel:approve")
    assert (await click.wait_ack()).type == 7
    assert panel.content == "approved by alice"
    assert panel.buttons() == [("panel:approve", "Approve", True)]
    updates = [e for e in fake.dispatched if e["t"] == "MESSAGE_UPDATE"]
    assert updates and updates[-1]["d"]["content"] == "approved by alice"
    with pytest.raises(ValueError, match="disabled"):
        await fake.click(ALICE, panel, "panel:approve")


async def test_classic_modal_submitted_and_answered(fake: FakeDiscord, bot: FakeTestBot) -> None:
    inter = await fake.slash(ALICE, "eco form")
    assert (await inter.wait_ack()).type == 9
    assert inter.modal is not None and inter.modal["title"] == "Transfer request"
    with pytest.raises(ValueError, match="required"):
        await fake.submit_modal(ALICE, inter, {"t:notes": "x"})
    submit = await fake.submit_modal(ALICE, inter, {"t:repo": "flask-foo"})
    msg = await submit.wait_message()
    assert msg.content == "saved flask-foo (no notes)" and msg.ephemeral


async def test_label_wrapped_modal(fake: FakeDiscord, bot: FakeTestBot) -> None:
    inter = await fake.slash(ALICE, "eco label-form")
    await inter.wait_ack()
    assert inter.modal is not None and inter.modal["components"][0]["type"] == 18
    submit = await fake.submit_modal(ALICE, inter, {"j:github": "octocat"})
    assert (await submit.wait_message()).content == "hello octocat"


async def test_autocomplete_choices(fake: FakeDiscord, bot: FakeTestBot) -> None:
    inter = await fake.autocomplete(ALICE, "eco contribute", focused="project", value="flask-")
    assert (await inter.wait_ack()).type == 8
    assert [c["value"] for c in inter.choices or []] == ["flask-caching", "flask-mail", "flask-session"]


async def test_messages_with_message_content_intent(fake: FakeDiscord, bot: FakeTestBot) -> None:
    sent = await fake.send_message(ALICE, CHANNEL, "I own flask-foo")
    await wait_for(lambda: bot.events["message"])
    (received,) = bot.events["message"]
    assert received.id == sent.id and received.content == "I own flask-foo"
    assert isinstance(received.author, discord.Member) and received.author.id == ALICE


async def test_messages_without_message_content_intent(fake: FakeDiscord) -> None:
    async with running_bot(fake, message_content=False) as bot:
        assert not fake.identified_intents[-1] & (1 << 15)
        await fake.send_message(ALICE, CHANNEL, "plain text")
        mention = await fake.send_message(ALICE, CHANNEL, f"<@{fake.bot_user.id}> help")
        dm = await fake.send_message(ALICE, fake.dm_channel(ALICE).id, "in a DM")
        await wait_for(lambda: len(bot.events["message"]) == 3)
        contents = [m.content for m in bot.events["message"]]
        assert contents == ["", mention.content, dm.content]


async def test_app_not_granted_message_content(fake: FakeDiscord) -> None:
    fake.message_content_intent_granted = False
    # Asking for the intent would close the gateway with 4014 (tests/test_fake_discord_strict.py).
    async with running_bot(fake, message_content=False) as bot:
        await fake.send_message(ALICE, CHANNEL, "secret")
        await wait_for(lambda: bot.events["message"])
        assert bot.events["message"][0].content == ""
        fetched = await bot.get_channel(CHANNEL).fetch_message(bot.events["message"][0].id)  # type: ignore[union-attr]
        assert fetched.content == ""


async def test_bot_message_records_allowed_mentions(fake: FakeDiscord, bot: FakeTestBot) -> None:
    channel = bot.get_channel(CHANNEL)
    assert isinstance(channel, discord.TextChannel)
    await channel.send(f"<@{ALICE}> @everyone look")
    msg = await fake.wait_for_message(CHANNEL)
    assert msg.allowed_mentions == {"parse": []}
    assert msg.mention_ids == set() and not msg.mention_everyone
    await channel.send(f"<@{ALICE}>", allowed_mentions=discord.AllowedMentions(users=True))
    pinged = await fake.wait_for_message(CHANNEL, after_id=msg.id)
    assert pinged.mention_ids == {ALICE}


async def test_reactions_reach_raw_events_with_member_roles(fake: FakeDiscord, bot: FakeTestBot) -> None:
    channel = bot.get_channel(CHANNEL)
    assert isinstance(channel, discord.TextChannel)
    sent = await channel.send("vote here")
    await fake.react(ALICE, sent.id, "👍")
    await wait_for(lambda: bot.events["reaction_add"])
    added = bot.events["reaction_add"][0]
    assert added.user_id == ALICE and str(added.emoji) == "👍" and added.message_author_id == fake.bot_user.id
    assert added.member is not None and MAINTAINER_ROLE in [r.id for r in added.member.roles]
    await fake.unreact(ALICE, sent.id, "👍")
    await wait_for(lambda: bot.events["reaction_remove"])
    removed = bot.events["reaction_remove"][0]
    assert removed.user_id == ALICE and removed.member is None  # Discord sends no member on remove


async def test_bot_reactions_and_listing_users(fake: FakeDiscord, bot: FakeTestBot) -> None:
    channel = bot.get_channel(CHANNEL)
    assert isinstance(channel, discord.TextChannel)
    sent = await channel.send("pick")
    await sent.add_reaction("✅")
    await sent.add_reaction("<:ferris:123456789012345678>")
    await fake.react(ALICE, sent.id, "✅")
    stored = fake.get_message(sent.id)
    assert stored.reactions == {"✅": {fake.bot_user.id, ALICE}, "ferris:123456789012345678": {fake.bot_user.id}}
    fetched = await channel.fetch_message(sent.id)
    check = next(r for r in fetched.reactions if str(r.emoji) == "✅")
    assert check.count == 2 and check.me
    assert sorted([u.id async for u in check.users()]) == sorted([ALICE, fake.bot_user.id])
    with pytest.raises(discord.Forbidden):  # removing someone else's reaction needs Manage Messages
        await sent.remove_reaction("✅", discord.Object(ALICE))
    fake.set_bot_permissions(GUILD, Perm.MANAGE_MESSAGES)
    await sent.remove_reaction("✅", discord.Object(ALICE))
    assert stored.reactions["✅"] == {fake.bot_user.id}
    await wait_for(lambda: any(e.user_id == fake.bot_user.id for e in bot.events["reaction_add"]))


async def test_private_thread_creation(fake: FakeDiscord, bot: FakeTestBot) -> None:
    channel = bot.get_channel(CHANNEL)
    assert isinstance(channel, discord.TextChannel)
    thread = await channel.create_thread(name="transfer flask-foo", type=discord.ChannelType.private_thread)
    await thread.add_user(discord.Object(ALICE))
    stored = fake.channels[thread.id]
    assert stored.type == 12 and stored.parent_id == CHANNEL
    assert stored.thread_members == {fake.bot_user.id, ALICE}
    await wait_for(lambda: bot.events["thread_create"])
    assert bot.events["thread_create"][0].id == thread.id
    await thread.send("welcome")
    assert (await fake.wait_for_message(thread.id)).content == "welcome"
    await thread.edit(archived=True)
    assert stored.archived


async def test_dm_to_member_with_closed_dms_is_forbidden(fake: FakeDiscord, bot: FakeTestBot) -> None:
    bob = await bot.fetch_user(BOB)
    with pytest.raises(discord.Forbidden) as excinfo:
        await bob.send("hello")
    assert excinfo.value.code == 50007
    alice = await bot.fetch_user(ALICE)
    await alice.send("hello alice")
    assert (await fake.wait_for_message(fake.dm_channel(ALICE).id)).content == "hello alice"


async def test_rate_limit_is_retried(fake: FakeDiscord, bot: FakeTestBot) -> None:
    fake.fail("POST", r"^/channels/\d+/messages$", 429, retry_after=0.05)
    channel = bot.get_channel(CHANNEL)
    assert isinstance(channel, discord.TextChannel)
    await channel.send("after a 429")
    statuses = [c.status for c in fake.calls_to("POST", r"^/channels/\d+/messages$")]
    assert statuses == [429, 200]


async def test_missing_permissions_is_forbidden(fake: FakeDiscord, bot: FakeTestBot) -> None:
    fake.channels[CHANNEL].overwrites = [{"id": GUILD, "type": 0, "deny": Perm.SEND_MESSAGES}]
    channel = bot.get_channel(CHANNEL)
    assert isinstance(channel, discord.TextChannel)
    with pytest.raises(discord.Forbidden) as excinfo:
        await channel.send("nope")
    assert excinfo.value.code == 50013
    fake.fail("POST", r"/messages$", 403, code=50013)
    fake.channels[CHANNEL].overwrites = []
    with pytest.raises(discord.Forbidden):
        await channel.send("injected")


async def test_second_ack_and_late_ack_are_rejected(fake: FakeDiscord, bot: FakeTestBot) -> None:
    inter = await fake.slash(ALICE, "eco transfer", {"repo": "x"})
    await inter.wait_ack()
    status, body = await raw_request(fake, "POST", f"/interactions/{inter.id}/{inter.token}/callback",
                                     json={"type": 4, "data": {"content": "again"}}, auth=False)
    assert (status, body["code"]) == (400, 40060)

    fake.ack_deadline = 0.05
    late = await fake.slash(ALICE, "unknown-command")  # the bot has no such command: never answers
    await asyncio.sleep(0.1)
    status, body = await raw_request(fake, "POST", f"/interactions/{late.id}/{late.token}/callback",
                                     json={"type": 5}, auth=False)
    assert (status, body["code"]) == (404, 10062)
    assert late.callbacks == [] and late.rejected_callbacks[0].status == 404


async def test_resume_replays_missed_events_once(fake: FakeDiscord, bot: FakeTestBot) -> None:
    await fake.send_message(ALICE, CHANNEL, "before")
    await wait_for(lambda: len(bot.events["message"]) == 1)
    async with fake.gateway_paused():
        await fake.drop_connection(resumable=True)
        await fake.send_message(ALICE, CHANNEL, "while down 1")
        await fake.send_message(ALICE, CHANNEL, "while down 2")
    await fake.wait_until_connected()
    await wait_for(lambda: bot.events["resumed"])
    await fake.send_message(ALICE, CHANNEL, "after")
    await wait_for(lambda: len(bot.events["message"]) == 4)
    await asyncio.sleep(0.05)
    assert [m.content for m in bot.events["message"]] == ["before", "while down 1", "while down 2", "after"]
    assert (fake.identify_count, fake.resume_count, fake.connections) == (1, 1, 2)


async def test_invalid_session_leads_to_new_identify(fake: FakeDiscord, bot: FakeTestBot) -> None:
    await fake.drop_connection(resumable=False)
    await wait_for(lambda: fake.identify_count == 2)
    await fake.wait_until_connected()
    inter = await fake.slash(ALICE, "eco transfer", {"repo": "after-reidentify"})
    assert (await inter.wait_ack()).type == 4


async def test_unknown_route_is_recorded(fake: FakeDiscord, bot: FakeTestBot) -> None:
    with pytest.raises(discord.NotFound):
        await bot.http.request(discord.http.Route("GET", "/no/such/route"))
    assert [(c.method, c.path) for c in fake.unknown_routes] == [("GET", "/no/such/route")]
    fake.unknown_routes.clear()  # expected here; the fixture asserts none are left


async def test_large_guild_is_not_sent_whole(fake: FakeDiscord) -> None:
    fake.add_members(GUILD, [(10**17 + i, f"user{i}") for i in range(10_000)])
    started = time.monotonic()
    async with running_bot(fake) as bot:
        assert time.monotonic() - started < 3
        guild = bot.get_guild(GUILD)
        assert guild is not None and guild.large and guild.member_count == len(fake.guilds[GUILD].members)
        assert guild.me is not None and len(guild.members) < 10
        member = await guild.fetch_member(10**17 + 4242)
        assert member.name == "user4242"


async def test_fake_rest_answers_plain_json(fake: FakeDiscord) -> None:
    async with aiohttp.ClientSession() as session:
        async with session.get(fake.api_base + "/gateway") as resp:
            assert resp.headers["Content-Type"] == "application/json"
            assert (await resp.json())["url"] == fake.gateway_url
    status, body = await raw_request(fake, "GET", "/users/@me", auth=False)
    assert (status, body["message"]) == (401, "401: Unauthorized")


async def test_gateway_uses_zlib_stream_and_heartbeats(fake: FakeDiscord) -> None:
    async with running_bot(fake) as bot:
        await wait_for(lambda: math.isfinite(bot.latency))
        assert fake.heartbeats >= 1
    assert fake.gateway_queries[0] == {"v": "10", "encoding": "json", "compress": "zlib-stream"}


async def test_server_error_is_retried(fake: FakeDiscord, bot: FakeTestBot) -> None:
    fake.fail("GET", r"^/guilds/\d+/roles$", 500)
    guild = bot.get_guild(GUILD)
    assert guild is not None
    roles = await guild.fetch_roles()  # discord.py waits 1 s and retries a 500
    assert {r.id for r in roles} == {GUILD, MAINTAINER_ROLE}
    call = await fake.wait_for_call("GET", r"/roles$", after_index=fake.calls_to("GET", "/roles$")[0].index)
    assert call.status == 200


async def test_modal_from_button_updates_the_message(fake: FakeDiscord, bot: FakeTestBot) -> None:
    class Ask(discord.ui.View):
        @discord.ui.button(label="Fill in", custom_id="ask:open")
        async def open(self, interaction: discord.Interaction, button: discord.ui.Button) -> None:
            await interaction.response.send_modal(Answer())

    class Answer(discord.ui.Modal, title="Answer"):
        text = discord.ui.TextInput(label="Text", custom_id="ask:text")

        async def on_submit(self, interaction: discord.Interaction) -> None:
            await interaction.response.edit_message(content=f"answered: {self.text.value}", view=None)

    channel = bot.get_channel(CHANNEL)
    assert isinstance(channel, discord.TextChannel)
    sent = await channel.send("question", view=Ask())
    click = await fake.click(ALICE, sent.id, "ask:open")
    await click.wait_ack()
    submit = await fake.submit_modal(ALICE, click, {"ask:text": "42"})
    assert (await submit.wait_ack()).type == 7
    stored = fake.get_message(sent.id)
    assert stored.content == "answered: 42" and stored.components == []


async def test_thread_from_message_and_deletes(fake: FakeDiscord, bot: FakeTestBot) -> None:
    channel = bot.get_channel(CHANNEL)
    assert isinstance(channel, discord.TextChannel)
    seen: list[int] = []

    async def on_raw_message_delete(payload: discord.RawMessageDeleteEvent) -> None:
        seen.append(payload.message_id)

    bot.add_listener(on_raw_message_delete)
    starter = await channel.send("discuss flask-foo")
    thread = await starter.create_thread(name="flask-foo")
    assert thread.id == starter.id and fake.channels[thread.id].type == 11
    user_msg = await fake.send_message(ALICE, CHANNEL, "bye")
    fake.delete_message(CHANNEL, user_msg.id)
    await wait_for(lambda: seen == [user_msg.id])
    await starter.delete()
    assert fake.get_message(starter.id).deleted and fake.messages_in(CHANNEL) == []


async def test_world_changes_after_connect_are_dispatched(fake: FakeDiscord, bot: FakeTestBot) -> None:
    fake.add_channel(GUILD, CHANNEL + 1, "questions")
    fake.add_role(GUILD, MAINTAINER_ROLE + 1, "trusted")
    await wait_for(lambda: bot.get_channel(CHANNEL + 1) is not None)
    guild = bot.get_guild(GUILD)
    assert guild is not None
    await wait_for(lambda: guild.get_role(MAINTAINER_ROLE + 1) is not None)
    fake.set_bot_permissions(GUILD, Perm.ADMINISTRATOR)
    await wait_for(lambda: guild.me.guild_permissions.administrator)


async def test_global_command_in_a_dm(fake: FakeDiscord, bot: FakeTestBot) -> None:
    dm = fake.dm_channel(ALICE)
    inter = await fake.slash(ALICE, "where", channel_id=dm.id)
    assert inter.payload["context"] == 1 and "member" not in inter.payload
    msg = await inter.wait_message()
    assert msg.content == f"dm {dm.id} alice" and msg.channel_id == dm.id


async def test_file_upload_is_stored(fake: FakeDiscord, bot: FakeTestBot) -> None:
    channel = bot.get_channel(CHANNEL)
    assert isinstance(channel, discord.TextChannel)
    sent = await channel.send("report", file=discord.File(io.BytesIO(b"line 1\n"), "report.txt"))
    assert [a.filename for a in sent.attachments] == ["report.txt"]
    stored = fake.get_message(sent.id)
    assert stored.attachments_bytes == {"report.txt": b"line 1\n"}
    assert fake.calls_to("POST", "/messages$")[-1].files == ["report.txt"]
