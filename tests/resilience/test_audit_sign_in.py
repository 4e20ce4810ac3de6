"""Audit of the shared "Sign in with GitHub" cooldown (`github.sign_in_cooldown_seconds`): each click asks
GitHub for a device code. `/eco join`'s sign-in counted the transfers' sign-ins, but not the other way round,
so a member alternating the two buttons asked GitHub twice per cooldown."""

from __future__ import annotations

from tests.e2e.test_join_flow import CLIENT, JOIN_CONFIG, SECRETS, ask, join_id_of, seed_projects, setup_join_world
from tests.e2e.test_verification_flow import add_request, open_methods


async def test_a_join_sign_in_counts_for_the_transfer_sign_in_cooldown(make_harness):
    h = await make_harness(github={**CLIENT, "sign_in_cooldown_seconds": 30.0}, join=JOIN_CONFIG, env=SECRETS)
    setup_join_world(h)
    await seed_projects(h)
    h.github.add_repo("alice/flask-foo")
    rid = await add_request(h)
    asked = await ask(h)
    joined = await h.discord.click(h.USER, asked, f"eco:join:prove:{join_id_of(asked)}")
    assert "Sign in with GitHub" in (await joined.wait_message()).text()
    assert h.github.count("POST", r"/login/device/code$") == 1

    methods = await open_methods(h, request=rid)
    transfer = await h.discord.click(h.USER, methods, f"eco:verify:device:{rid}")
    told = (await transfer.wait_message()).text()
    assert "try again in" in told and "second" in told, told
    assert h.github.count("POST", r"/login/device/code$") == 1

    h.clock.advance(seconds=31)
    methods = await open_methods(h, request=rid)
    transfer = await h.discord.click(h.USER, methods, f"eco:verify:device:{rid}")
    assert "try again" not in (await transfer.wait_message()).text()
    assert h.github.count("POST", r"/login/device/code$") == 2


async def test_a_device_code_answer_pointing_elsewhere_is_not_shown_as_a_link(make_harness):
    """GitHub's device-code answer is outside data: its `verification_uri` becomes a link button and its
    `user_code` sits in markdown. A link off the configured GitHub web URL is replaced by the documented
    one ({web_url}/login/device, https://docs.github.com/en/apps/oauth-apps/building-oauth-apps/authorizing-oauth-apps#device-flow),
    and a user code that isn't GitHub's XXXX-XXXX shape is refused rather than shown."""
    h = await make_harness(github=CLIENT, join=JOIN_CONFIG, env=SECRETS)
    setup_join_world(h)
    await seed_projects(h)
    web = h.settings.github.web_url
    asked = await ask(h)
    jid = join_id_of(asked)
    h.github.fail("POST", r"/login/device/code$", 200, body={
        "device_code": "d" * 40, "user_code": "ABCD-1234", "expires_in": 900, "interval": 5,
        "verification_uri": f"{web}.evil.example/login/device) [x](https://evil.example"})
    click = await h.discord.click(h.USER, asked, f"eco:join:prove:{jid}")
    shown = await click.wait_message()
    assert "evil.example" not in str(shown.embeds) + str(shown.components)
    assert f"{web}/login/device" in shown.text()
    assert any(b.get("url") == f"{web}/login/device" for row in shown.components for b in row["components"])

    h.clock.advance(seconds=31)
    h.github.fail("POST", r"/login/device/code$", 200, body={
        "device_code": "e" * 40, "user_code": "`**@everyone**`", "expires_in": 900, "interval": 5,
        "verification_uri": f"{web}/login/device"})
    click = await h.discord.click(h.USER, asked, f"eco:join:prove:{jid}")
    shown = await click.wait_message()
    assert "@everyone" not in shown.text() and "Sign in with GitHub\n1." not in shown.text()
