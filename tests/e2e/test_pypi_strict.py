"""What people see when PyPI answers as Warehouse really does (issue 14: items 1, 2, 6, 7), end to end:
the real bot, the fake Discord, and the fake GitHub and PyPI made strict."""

from __future__ import annotations

from tests.e2e.test_review_flow import (
    approve,
    card_of,
    cog,
    setup_world,
    submit,
    wait_card,
)
from tests.e2e.test_verification_flow import add_request, open_methods

PALLETS = {"trusted_organizations": ["pallets"]}


async def test_a_project_in_the_pallets_pypi_organisation_is_struck_and_no_longer_nagged_about(make_harness):
    h = await make_harness(pypi=PALLETS)
    h.repo = setup_world(h)
    h.discord.guilds[h.guild_id].roles[h.maintainer_role_id].mentionable = True
    # davidism holds the project as an owner of the `pallets` organisation: PyPI never lists that in roles.
    h.pypi.project("flask-thing").update(organization="pallets", org_roles=[("Owner", "davidism")])
    rid = await submit(h)
    card = await approve(h, rid)
    h.clock.advance(hours=1)
    result = await cog(h).run_tracking_pass()
    assert [p.completed for p in result.progress] == [["pypi_owner"]]
    text = (await wait_card(h, rid, "~~PyPI: davidism is an Owner")).text()
    assert "in the PyPI organisation pallets" in text
    # Two stall periods later the maintainers' reminder lists what is still open: not the PyPI owner.
    h.clock.advance(days=15)
    await cog(h).run_tracking_pass()
    reminder = await h.discord.wait_for_message(card.id, lambda m: "has not progressed" in m.text())
    still_open = reminder.text().split("Still open:", 1)[1].split(", ")
    assert "A PyPI release from the new home" in still_open
    assert not [item for item in still_open if item.startswith("PyPI:")]


async def test_a_yanked_release_leaves_the_release_step_open_on_the_card(harness):
    h = harness
    h.repo = setup_world(h)
    h.pypi.releases_key = False  # deprecated key (docs.pypi.org/api/json/): the bot must not need it
    rid = await submit(h)
    await approve(h, rid)
    h.clock.advance(hours=1)
    h.github.transfer_repo("alice/flask-thing", "pallets-eco")
    await cog(h).run_tracking_pass()
    await wait_card(h, rid, "~~Repository moved to pallets-eco")
    h.clock.advance(hours=1)
    h.pypi.add_release("flask-thing", "2.0.0", h.clock.now())
    h.pypi.yank("flask-thing", "2.0.0", "wrong files")
    h.clock.advance(minutes=10)
    assert not (await cog(h).run_tracking_pass()).progress
    assert "~~A PyPI release" not in (await card_of(h, rid)).text()
    h.pypi.add_release("flask-thing", "2.0.1", h.clock.now())
    h.clock.advance(minutes=10)
    await cog(h).run_tracking_pass()
    # Markdown escapes (`2\\.0.1`) are invisible in Discord: compare what a reader sees.
    assert "2.0.1 released" in (await wait_card(h, rid, "~~A PyPI release")).text().replace("\\", "")


async def test_verify_tells_the_requester_their_project_is_quarantined(harness):
    h = harness
    h.github.add_repo("alice/flask-foo")
    h.pypi.add_project("Flask-Foo", status="quarantined")
    await add_request(h, pypi_project="Flask-Foo", pypi_username="alice")
    text = (await open_methods(h)).text()
    assert "PyPI has quarantined `Flask-Foo`" in text and "no project named" not in text


async def test_verify_says_roles_through_a_pypi_organisation_are_not_visible(harness):
    h = harness
    h.github.add_repo("alice/flask-foo")
    h.pypi.add_project("Flask-Foo", roles=[("Owner", "zed")], organization="foo-team",
                       org_roles=[("Owner", "alice")],
                       project_urls={"Source": "https://github.com/alice/flask-foo"})
    await add_request(h, pypi_project="Flask-Foo", pypi_username="alice")
    text = (await open_methods(h)).text()
    assert "organisation **foo-team**" in text and "can't be seen through PyPI's API" in text
