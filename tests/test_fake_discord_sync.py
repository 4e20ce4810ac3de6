"""Self-tests of the fake Discord's stricter rules (each rule's source is cited where the fake
implements it): DMs opened too fast (40003), and command/autocomplete limits."""

from __future__ import annotations

import asyncio

import discord
import pytest

from tests.fakes.discord import FakeDiscord, raw_request
from tests.test_fake_discord import ALICE, CHANNEL, running_bot

USERS = [900_000_000_000_000_500 + i for i in range(12)]
GUILD = 900_000_000_000_000_001


async def open_dm(fake: FakeDiscord, user: int) -> tuple[int, dict]:
    return await raw_request(fake, "POST", "/users/@me/channels", json={"recipient_id": str(user)})


async def test_opening_dms_too_fast_answers_40003_not_429():
    async with FakeDiscord() as fake:
        for i, user in enumerate(USERS):
            fake.add_user(user, f"u{i}")
        fake.dm_open_limit = (3, 0.5)
        answers = [await open_dm(fake, u) for u in USERS[:5]]
        assert [status for status, _ in answers] == [200, 200, 200, 400, 400]
        assert answers[3][1] == {"code": 40003, "message": "You are opening direct messages too fast"}
        assert len(fake.dm_opens) == 3  # refusals don't count
        await asyncio.sleep(0.55)
        status, body = await open_dm(fake, USERS[5])
        assert status == 200 and body["recipients"][0]["id"] == str(USERS[5])
        fake.dm_open_limit = None
        assert [(await open_dm(fake, u))[0] for u in USERS] == [200] * len(USERS)


async def test_the_default_limit_refuses_an_eleventh_dm_within_ten_seconds():
    async with FakeDiscord() as fake:
        for i, user in enumerate(USERS):
            fake.add_user(user, f"u{i}")
        statuses = [(await open_dm(fake, u))[0] for u in USERS[:11]]
        assert statuses == [200] * 10 + [400]


# -- command sync and autocomplete limits (tests/fakes/discord_validation.py cites the docs) -----------

def chat(name: str = "eco", description: str = "Pallets eco", **extra) -> dict:
    return {"type": 1, "name": name, "description": description, **extra}


def sub(name: str, **extra) -> dict:
    return {"type": 1, "name": name, "description": f"the {name} command", **extra}


def string_option(name: str = "project", **extra) -> dict:
    return {"type": 3, "name": name, "description": "a project", **extra}


async def put_commands(fake: FakeDiscord, payload: list[dict]) -> tuple[int, dict]:
    return await raw_request(fake, "PUT", f"/applications/{fake.application_id}/guilds/{GUILD}/commands",
                             json=payload)


@pytest.fixture
async def sync_fake():
    fake = FakeDiscord()
    fake.add_guild(GUILD, "Pallets")
    async with fake:
        yield fake


@pytest.mark.parametrize(("payload", "field"), [
    ([chat("Eco")], "0.name"),                                      # uppercase in a slash command name
    ([chat("e" * 33)], "0.name"),                                   # 33 characters
    ([chat("eco tools")], "0.name"),                                # spaces only in USER/MESSAGE names
    ([chat("")], "0.name"),
    ([chat(description="")], "0.description"),                      # slash commands need a description
    ([chat(description="d" * 101)], "0.description"),
    ([chat(options=[sub(f"c{i}") for i in range(26)])], "0.options"),  # 26 subcommands
    ([chat(options=[sub("go", options=[string_option(f"o{i}") for i in range(26)])])], "0.options.0.options"),
    ([chat(options=[string_option(choices=[{"name": f"n{i}", "value": f"v{i}"} for i in range(26)])])],
     "0.options.0.choices"),
    ([chat(options=[string_option(choices=[{"name": "n" * 101, "value": "v"}])])], "0.options.0.choices.0.name"),
    ([chat(options=[string_option(choices=[{"name": "n", "value": "v" * 101}])])], "0.options.0.choices.0.value"),
    ([chat(options=[string_option("Project")])], "0.options.0.name"),
    ([chat(options=[string_option(description="x" * 101)])], "0.options.0.description"),
    ([chat(options=[{"type": 2, "name": "g", "description": "group",
                     "options": [{"type": 2, "name": "h", "description": "nested group", "options": []}]}])],
     "0.options.0.options"),
    ([chat(options=[sub("a", options=[sub("b")])])], "0.options.0.options"),
    ([{"type": 3, "name": "Answer with FAQ", "description": "not allowed"}], "0.description"),
    ([chat(f"c{i}") for i in range(101)], None),                    # 101 commands
    ([{"type": 2, "name": f"User {i}", "description": ""} for i in range(16)], "_"),  # 16 USER commands
    # 8,000 characters of names, descriptions and values in one command
    ([chat(options=[sub(f"s{i}", description="d" * 100, options=[
        string_option(f"o{j}", description="d" * 100) for j in range(4)]) for i in range(20)])], "0"),
])
async def test_a_command_discord_would_refuse_is_refused_on_sync(sync_fake, payload, field):
    status, body = await put_commands(sync_fake, payload)
    assert (status, body["code"]) == (400, 50035), body
    if field is not None:
        assert field in body.get("errors", {}), body
    assert sync_fake.commands_in(GUILD) == []  # nothing stored


async def test_commands_at_the_limits_are_accepted(sync_fake):
    payload = [
        chat("e" * 32, "d" * 100, options=[
            sub(f"s{i}", options=[string_option(f"o{j}") for j in range(25)] if i == 0 else []) for i in range(25)
        ]),
        chat("pick", options=[string_option(choices=[{"name": "n" * 100, "value": "v" * 100}] * 25)]),
        chat("über-cool_it's", options=[{"type": 4, "name": "count", "description": "how many",
                                         "choices": [{"name": "one", "value": 1}]}]),
        {"type": 3, "name": "Answer with FAQ", "description": ""},
        {"type": 2, "name": "Mixed Case User", "description": ""},
    ]
    status, body = await put_commands(sync_fake, payload)
    assert status == 200, body
    assert len(sync_fake.commands_in(GUILD)) == 5
    status, body = await put_commands(sync_fake, [chat(f"c{i}") for i in range(100)])
    assert status == 200, body


async def test_single_command_create_and_edit_are_validated_too(sync_fake):
    base = f"/applications/{sync_fake.application_id}/guilds/{GUILD}/commands"
    status, body = await raw_request(sync_fake, "POST", base, json=chat("Bad"))
    assert (status, body["code"]) == (400, 50035)
    status, made = await raw_request(sync_fake, "POST", base, json=chat("good"))
    assert status == 201
    status, body = await raw_request(sync_fake, "PATCH", f"{base}/{made['id']}", json={"description": "x" * 101})
    assert (status, body["code"]) == (400, 50035)
    assert sync_fake.commands_in(GUILD)[0]["description"] == "Pallets eco"


@pytest.mark.parametrize(("choices", "ok"), [
    ([{"name": "n" * 100, "value": "v" * 100}], True),
    ([{"name": "flask", "value": 7}], True),
    ([{"name": "n" * 101, "value": "v"}], False),
    ([{"name": "n", "value": "v" * 101}], False),
    ([{"name": "", "value": "v"}], False),
    ([{"name": f"n{i}", "value": f"v{i}"} for i in range(26)], False),
])
async def test_autocomplete_choices_are_held_to_discords_limits(sync_fake, choices, ok):
    fake = sync_fake
    fake.add_channel(GUILD, CHANNEL, "pallets-eco")
    fake.add_member(GUILD, ALICE, "alice")
    async with running_bot(fake) as bot:
        await bot.tree.sync(guild=discord.Object(GUILD))
        await autocomplete_answered_with(fake, choices, ok)


async def autocomplete_answered_with(fake: FakeDiscord, choices: list[dict], ok: bool) -> None:
    inter = await fake.autocomplete(ALICE, "not-a-command", focused="x", value="fl")  # the bot won't answer
    status, body = await raw_request(fake, "POST", f"/interactions/{inter.id}/{inter.token}/callback",
                                     json={"type": 8, "data": {"choices": choices}}, auth=False)
    if ok:
        assert status in (200, 204), body
        assert inter.choices == choices
    else:
        assert (status, body["code"]) == (400, 50035), body
        assert inter.choices is None
