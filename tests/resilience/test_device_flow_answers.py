"""Device-flow answers the bot doesn't expect are told for what they are (issue 14, item 9): GitHub
refusing the sign-in (device flow turned off, an unknown app, an error code never seen before) is not
"GitHub is down", whatever HTTP status carries it."""

from __future__ import annotations

import pytest

from tests.e2e.test_verification_flow import CLIENT, SECRET, add_request, finish_device, open_methods, start_device
from tests.e2e.test_verification_flow import stored as stored_request

DOWN = "isn't answering"


@pytest.fixture
async def h(make_harness):
    harness = await make_harness(github=CLIENT, env=SECRET)
    harness.github.add_repo("alice/flask-foo")
    return harness


async def press_device(h, rid: int) -> str:
    methods = await open_methods(h, request=rid)
    click = await h.discord.click(h.USER, methods, f"eco:verify:device:{rid}")
    message = await click.wait_message()
    assert message.ephemeral
    return message.text()


@pytest.mark.parametrize("status", [200, 400])
async def test_device_flow_turned_off_says_so_and_how_to_fix_it(h, status):
    h.github.device_flow_enabled = False
    h.github.device_code_error_status = status
    rid = await add_request(h)
    told = await press_device(h, rid)
    assert "refused to start the sign-in" in told and "Enable Device Flow" in told, told
    assert "topic method" in told and DOWN not in told
    assert (await stored_request(h, rid)).verified_at is None


@pytest.mark.parametrize("status", [200, 400])
async def test_an_unknown_error_code_is_named_not_called_an_outage(h, status):
    h.github.device_code_error = "brand_new_error"
    h.github.device_code_error_status = status
    told = await press_device(h, await add_request(h))
    assert "brand_new_error" in told and "refused to start" in told and DOWN not in told, told


async def test_an_unknown_app_while_polling_is_a_setup_problem_for_a_maintainer(h):
    rid = await add_request(h)
    h.github.device_flow_script(["incorrect_client_credentials"])
    click, _ = await start_device(h, rid)
    told = (await finish_device(h, click)).text()
    assert "doesn't recognise this bot's app" in told and "tell a maintainer" in told, told


async def test_a_hostile_error_code_is_never_echoed(h):
    rid = await add_request(h)
    h.github.device_flow_script(["<@&123> @everyone " + "x" * 500])
    click, _ = await start_device(h, rid)
    told = await finish_device(h, click)
    assert "@everyone" not in told.text() and "<@&" not in told.text() and len(told.text()) < 600
    assert "unknown_error" in told.text()


async def test_a_refused_poll_ends_the_sign_in_at_once_instead_of_waiting_for_expiry(h):
    rid = await add_request(h)
    click, _ = await start_device(h, rid)
    h.github.fail("POST", r"/login/oauth/access_token$", 404, times=1, body={"error": "Not Found"})
    told = (await finish_device(h, click)).text()
    assert "refused the sign-in check (HTTP 404)" in told and DOWN not in told, told
    assert (await stored_request(h, rid)).verified_at is None
