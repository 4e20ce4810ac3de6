"""The bot's command tree and its autocomplete answers stay within Discord's documented limits, now
that the fake refuses what Discord refuses (tests/fakes/discord_validation.py): a refused sync or
autocomplete answer would leave users with no command or an empty suggestion list."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.fakes.discord_validation import validate_command_list

ORG = "pallets-eco"
NOW = datetime.now(UTC).replace(microsecond=0)


async def test_the_synced_tree_is_one_discord_accepts(harness):
    synced = harness.discord.calls_to("PUT", r"/commands$")
    assert synced and all(c.status == 200 for c in synced)
    commands = harness.discord.commands_in(harness.GUILD)
    validate_command_list(commands)  # raises on anything Discord would refuse
    eco = next(c for c in commands if c["name"] == "eco")
    assert len(eco["options"]) <= 25


async def test_project_autocomplete_with_many_and_very_long_repository_names(harness):
    h = harness
    h.clock.advance(seconds=(NOW - h.clock.now()).total_seconds())
    h.github.add_org(ORG)
    longest = "flask-" + "x" * 94  # GitHub allows repository names up to 100 characters
    for name in [longest, *(f"flask-ext{i:02d}" for i in range(30))]:
        h.github.add_repo(f"{ORG}/{name}", owner_type="Organization", pushed_at=NOW - timedelta(days=3))
    await h.bot.get_cog("Contribute").service.refresh()
    for typed in ("", "flask", "xxxx"):
        inter = await h.discord.autocomplete(h.USER, "eco contribute", focused="project", value=typed)
        await inter.wait_ack()
        assert not inter.rejected_callbacks, inter.rejected_callbacks
        assert inter.choices, typed
        assert len(inter.choices) <= 25
        assert all(1 <= len(c["name"]) <= 100 and len(c["value"]) <= 100 for c in inter.choices)
    # the longest name is offered whole, and picking it works
    inter = await h.discord.autocomplete(h.USER, "eco subscribe", focused="project", value="xxxx")
    await inter.wait_ack()
    assert [c["value"] for c in inter.choices] == [longest]
    picked = await h.slash(h.USER, "eco subscribe", project=longest)
    await picked.wait_ack()
    assert longest in picked.response_message.content
