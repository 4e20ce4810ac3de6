"""Tracking approved transfers: each checklist item flips as the world changes, errors change nothing,
an unchanged world costs no rate limit, and stalls nudge once per level."""

# The fixtures are shared with test_review.py; importing them makes ruff see the parameters as redefinitions.
# ruff: noqa: F811

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from bot.db.models.review import ChecklistItem, ReviewNudge, ReviewTracking
from bot.db.models.transfers import TransferEvent
from bot.errors import InvalidInput, NotAllowed
from bot.services.review import APPROVE, ReviewService
from bot.services.tracking import TrackingService
from tests.services.test_review import (  # noqa: F401  (fixtures are used by name)
    ADMIN_TOKEN,
    MAINT_A,
    STRANGER,
    add_request,
    clock,
    db,
    fake_github,
    fake_pypi,
    github_client,
    http,
    make_settings,
    pypi_client,
    state_of,
)

README = "# Flask-Thing\n\nA Flask extension.\n"


@pytest.fixture
def world(fake_github, fake_pypi):
    repo = fake_github.add_repo("alice/flask-thing", readme=README, admins=["alice"])
    fake_pypi.add_project("flask-thing", roles=[("Owner", "alice")])
    return repo


def tracker(db, clock, fake_github, fake_pypi, http, **settings) -> TrackingService:
    s = make_settings(github_url=fake_github.root_url, pypi_url=fake_pypi.url, **settings)
    return TrackingService(db, github_client(http, fake_github), pypi_client(http, fake_pypi), clock, s)


async def approved_request(db, clock, repo_id: int | None, **kw) -> int:
    rid = await add_request(db, clock, repo_id=repo_id, **kw)
    outcome = await ReviewService(db, clock, make_settings()).record_vote(rid, MAINT_A, APPROVE, True, True)
    assert outcome.decision == "approved"
    return rid


async def items(db, rid: int) -> dict[str, ChecklistItem]:
    async with db() as s:
        rows = await s.scalars(select(ChecklistItem).where(ChecklistItem.request_id == rid))
        return {i.key: i for i in rows}


async def done_keys(db, rid: int) -> set[str]:
    return {k for k, i in (await items(db, rid)).items() if i.done_at}


async def test_full_tracking_from_approval_to_done(db, clock, fake_github, fake_pypi, http, world):
    rid = await approved_request(db, clock, world["id"])
    svc = tracker(db, clock, fake_github, fake_pypi, http)
    result = await svc.run_pass()
    assert result.progress == [] and result.errors == {} and await done_keys(db, rid) == set()
    assert await state_of(db, rid) == "approved"

    steps = [
        ("org_member", lambda: fake_github.add_member("pallets-eco", "alice"), "transferring"),
        ("repo_transferred", lambda: fake_github.transfer_repo("alice/flask-thing", "pallets-eco"), None),
        ("pypi_owner", lambda: fake_pypi.set_roles("flask-thing", [("Owner", "alice"), ("Owner", "davidism")]),
         None),
        ("publish_workflow", lambda: fake_github.repo("pallets-eco/flask-thing")["files"].update(
            {".github/workflows/publish.yaml": "name: Publish\n"}), None),
        ("readme_notice", lambda: fake_github.repo("pallets-eco/flask-thing")["files"].update(
            {"README.md": README + "\nPart of the Pallets Community Ecosystem.\n"}), None),
        ("release", lambda: fake_pypi.add_release("flask-thing", "2.0.0", clock.now()), None),
    ]
    for key, change, new_state in steps:
        clock.advance(hours=1)
        change()
        clock.advance(minutes=10)
        result = await svc.run_pass()
        assert [(p.request_id, p.completed, p.new_state) for p in result.progress] == [(rid, [key], new_state)]
        item = (await items(db, rid))[key]
        assert item.done_at == clock.now() and item.done_by is None and item.note
    assert (await items(db, rid))["repo_transferred"].note == "now at pallets-eco/flask-thing"
    assert (await items(db, rid))["publish_workflow"].note == ".github/workflows/publish.yaml"
    assert await state_of(db, rid) == "transferring"

    # The manual steps are ticked by a maintainer; the last one finishes the transfer.
    with pytest.raises(NotAllowed):
        await svc.tick(rid, "readthedocs", STRANGER, False)
    first = await svc.tick(rid, "readthedocs", MAINT_A, True, note="davidism added on RTD")
    assert first.newly_done and first.new_state is None
    assert not (await svc.tick(rid, "readthedocs", MAINT_A, True)).newly_done
    last = await svc.tick(rid, "test_pypi", MAINT_A, True, note="project not on Test PyPI")
    assert last.new_state == "done" and await state_of(db, rid) == "done"
    assert (await items(db, rid))["test_pypi"].done_by == MAINT_A
    assert await svc.claim_announcement(rid) and not await svc.claim_announcement(rid)
    async with db() as s:
        actions = list(await s.scalars(select(TransferEvent.action).where(TransferEvent.request_id == rid)))
    assert actions.count("tracking.tick.readthedocs") == 1 and actions.count("tracking.done") == 1
    assert (await svc.run_pass()).checked == 0  # done requests are no longer tracked


async def test_a_release_before_the_repository_moved_does_not_count(db, clock, fake_github, fake_pypi, http, world):
    rid = await approved_request(db, clock, world["id"])
    svc = tracker(db, clock, fake_github, fake_pypi, http)
    clock.advance(days=1)
    # Cut from the old home after approval: PyPI still points at alice/flask-thing.
    fake_pypi.add_release("flask-thing", "1.1.0", clock.now())
    clock.advance(minutes=5)
    await svc.run_pass()
    assert "release" not in await done_keys(db, rid)
    clock.advance(hours=1)
    fake_github.transfer_repo("alice/flask-thing", "pallets-eco")
    await svc.run_pass()
    assert "repo_transferred" in await done_keys(db, rid)
    assert "release" not in await done_keys(db, rid)  # older than the transfer
    clock.advance(days=2)
    await svc.run_pass()
    assert "release" not in await done_keys(db, rid)
    fake_pypi.add_release("flask-thing", "1.2.0", clock.now())
    clock.advance(minutes=10)
    await svc.run_pass()
    assert "release" in await done_keys(db, rid)
    assert (await items(db, rid))["release"].note.startswith("1.2.0 released")


async def test_a_release_made_between_the_move_and_the_pass_that_saw_it_counts(db, clock, fake_github, fake_pypi,
                                                                            http, world):
    rid = await approved_request(db, clock, world["id"])
    svc = tracker(db, clock, fake_github, fake_pypi, http)
    clock.advance(days=1)
    await svc.run_pass()
    clock.advance(minutes=2)
    fake_github.transfer_repo("alice/flask-thing", "pallets-eco")
    clock.advance(minutes=3)
    fake_pypi.add_release("flask-thing", "2.0.0", clock.now())
    clock.advance(minutes=5)  # the next pass, one interval after the last
    await svc.run_pass()
    assert {"repo_transferred", "release"} <= await done_keys(db, rid)


async def test_a_release_the_bot_learns_of_late_counts_when_pypi_links_to_the_new_home(db, clock, fake_github,
                                                                                    fake_pypi, http, world):
    rid = await approved_request(db, clock, world["id"])
    svc = tracker(db, clock, fake_github, fake_pypi, http)
    clock.advance(days=1)
    await svc.run_pass()
    clock.advance(hours=2)
    fake_github.transfer_repo("alice/flask-thing", "pallets-eco")
    await svc.run_pass()
    # PyPI's cached JSON shows a release only now, dated half an hour before the bot saw the move.
    clock.advance(minutes=10)
    fake_pypi.add_release("flask-thing", "1.1.0", clock.now() - timedelta(minutes=40))
    await svc.run_pass()
    assert "release" not in await done_keys(db, rid)  # can't tell it from one cut just before the move
    fake_pypi.project("flask-thing")["project_urls"] = {"Source": f"{fake_github.web_url}/pallets-eco/flask-thing"}
    clock.advance(minutes=10)
    await svc.run_pass()
    assert (await items(db, rid))["release"].note.startswith("1.1.0 released")


async def test_a_move_seen_after_downtime_counts_releases_since_the_last_look(db, clock, fake_github, fake_pypi,
                                                                           http, world):
    rid = await approved_request(db, clock, world["id"])
    svc = tracker(db, clock, fake_github, fake_pypi, http)
    clock.advance(hours=1)
    await svc.run_pass()
    clock.advance(hours=1)
    fake_pypi.add_release("flask-thing", "1.1.0", clock.now())  # before the move
    clock.advance(hours=1)
    fake_github.transfer_repo("alice/flask-thing", "pallets-eco")
    fake_pypi.add_release("flask-thing", "2.0.0", clock.now())  # after it
    clock.advance(hours=5)  # the bot was down for a while
    await svc.run_pass()
    assert (await items(db, rid))["release"].note.startswith("2.0.0 released")


async def test_repository_found_by_name_when_the_id_is_unknown(db, clock, fake_github, fake_pypi, http, world):
    rid = await approved_request(db, clock, None)
    fake_github.transfer_repo("alice/flask-thing", "pallets-eco")
    await tracker(db, clock, fake_github, fake_pypi, http).run_pass()
    assert "repo_transferred" in await done_keys(db, rid)
    async with db() as s:
        assert (await s.get(ReviewTracking, rid)).repo_id == world["id"]


async def twenty_approved_requests(db, clock, fake_github, fake_pypi) -> list[int]:
    ids = []
    for n in range(20):
        repo = fake_github.add_repo(f"user{n}/flask-ext{n}", readme=README)
        fake_pypi.add_project(f"flask-ext{n}", roles=[("Owner", f"user{n}")])
        fake_github.add_user(f"user{n}")
        ids.append(await approved_request(db, clock, repo["id"], repo=f"user{n}/flask-ext{n}",
                                          pypi=f"flask-ext{n}", login=f"user{n}"))
    # Half have been invited (pending, not yet members), half not; none has joined.
    for n in range(10):
        fake_github.orgs["pallets-eco"]["pending"][f"user{n}"] = "member"
    # Enough existing members that the listing takes two pages.
    for n in range(150):
        fake_github.add_member("pallets-eco", f"member{n:03}")
    return ids


@pytest.mark.parametrize("admin_token", [None, ADMIN_TOKEN])
async def test_unchanged_world_costs_no_rate_limit(db, clock, fake_github, fake_pypi, http, admin_token):
    await twenty_approved_requests(db, clock, fake_github, fake_pypi)
    svc = tracker(db, clock, fake_github, fake_pypi, http, admin_token=admin_token)
    await svc.run_pass()  # warms the ETag cache
    # Invitations were handled by the first pass; from now on only tracking runs.
    before = len(fake_github.requests)
    result = await svc.run_pass()
    second = fake_github.requests[before:]
    assert result.checked == 20 and result.progress == []
    # One listing of the org's members for the whole pass (two pages), then per request:
    # repository by id, workflows, README. Nothing asks about a single requester's membership.
    listing = [r.query["page"] for r in second if r.path == "/api/orgs/pallets-eco/members"]
    assert listing == ["1", "2"]
    assert not any("/memberships/" in r.path for r in second)
    assert len(second) == 2 + 3 * 20
    assert [(r.path, r.status) for r in second if r.status != 304] == []


async def test_a_requester_who_joins_is_seen_on_the_next_pass(db, clock, fake_github, fake_pypi, http):
    ids = await twenty_approved_requests(db, clock, fake_github, fake_pypi)
    svc = tracker(db, clock, fake_github, fake_pypi, http)
    await svc.run_pass()
    await svc.run_pass()
    assert [rid for rid in ids if "org_member" in await done_keys(db, rid)] == []
    # One accepts the invitation, one is added directly, and one concealed member is not a requester.
    fake_github.accept_invitation("pallets-eco", "user3")
    fake_github.add_member("pallets-eco", "user15")
    fake_github.add_member("pallets-eco", "someone-else")
    before = len(fake_github.requests)
    result = await svc.run_pass()
    assert sorted((p.request_id, p.completed) for p in result.progress) == [
        (ids[3], ["org_member"]), (ids[15], ["org_member"])
    ]
    # The page of the member list that changed is the only request that costs anything.
    counted = [(r.path, r.query["page"], r.status) for r in fake_github.requests[before:] if r.status != 304]
    assert counted == [("/api/orgs/pallets-eco/members", "2", 200)]
    assert (await items(db, ids[3]))["org_member"].note == "user3 is a member of pallets-eco"


async def test_only_public_members_count_when_the_bot_is_outside_the_org(db, clock, fake_github, fake_pypi, http,
                                                                         world):
    # The bot's account is not in this org: GitHub lists only public members to it.
    fake_github.orgs["pallets-eco"]["members"].pop(fake_github.bot_login)
    rid = await approved_request(db, clock, world["id"])
    svc = tracker(db, clock, fake_github, fake_pypi, http)
    fake_github.add_member("pallets-eco", "alice")  # concealed: invisible to the bot
    await svc.run_pass()
    assert "org_member" not in await done_keys(db, rid)
    fake_github.orgs["pallets-eco"]["public"].add("alice")
    await svc.run_pass()
    assert "org_member" in await done_keys(db, rid)


@pytest.mark.parametrize("fault", ["5xx", "rate_limit", "connection"])
async def test_errors_change_nothing_and_are_retried(db, clock, fake_github, fake_pypi, http, world, fault):
    rid = await approved_request(db, clock, world["id"])
    other = await approved_request(db, clock, None, repo="alice/flask-other")
    fake_github.add_member("pallets-eco", "alice")
    svc = tracker(db, clock, fake_github, fake_pypi, http)
    if fault == "5xx":
        fake_github.down = True
    elif fault == "rate_limit":
        fake_github.set_rate_limit(0, login=fake_github.bot_login)
    else:
        fake_github.down = "close"
    result = await svc.run_pass()
    assert result.aborted and rid in result.errors and other not in result.errors
    assert [(p.request_id, p.completed, p.error_changed) for p in result.progress] == [(rid, [], True)]
    assert await done_keys(db, rid) == set()
    assert await state_of(db, rid) == "approved"
    async with db() as s:
        assert (await s.get(ReviewTracking, rid)).last_error
    fake_github.down = False
    fake_github.set_rate_limit(5000, login=fake_github.bot_login)
    await svc.run_pass()
    assert "org_member" in await done_keys(db, rid)
    assert await state_of(db, rid) == "transferring"


async def test_a_missing_repository_is_reported_without_stopping_others(db, clock, fake_github, fake_pypi, http,
                                                                          world):
    gone = await approved_request(db, clock, 999_999, repo="alice/gone", pypi=None)
    rid = await approved_request(db, clock, world["id"])
    fake_github.add_member("pallets-eco", "alice")
    result = await tracker(db, clock, fake_github, fake_pypi, http).run_pass()
    assert "can't be found" in result.errors[gone] and result.aborted is None
    assert "org_member" in await done_keys(db, rid)


async def test_a_request_whose_checks_keep_failing_still_nudges(db, clock, fake_github, fake_pypi, http):
    gone = await approved_request(db, clock, 999_999, repo="alice/gone", pypi=None)
    svc = tracker(db, clock, fake_github, fake_pypi, http)
    clock.advance(days=6)
    assert gone in (await svc.run_pass()).errors
    clock.advance(days=1)
    result = await svc.run_pass()
    assert gone in result.errors and [(p.request_id, p.nudges) for p in result.progress] == [(gone, ["requester"])]
    clock.advance(days=7)
    result = await svc.run_pass()
    assert [(p.request_id, p.nudges) for p in result.progress] == [(gone, ["maintainers"])]
    assert (await svc.run_pass()).progress == []
    async with db() as s:
        assert "can't be found" in (await s.get(ReviewTracking, gone)).last_error


async def test_stall_nudges_requester_then_maintainers_once_each(db, clock, fake_github, fake_pypi, http, world):
    rid = await approved_request(db, clock, world["id"])

    async def nudges_after(**delta) -> list[str]:
        clock.advance(**delta)
        # A fresh service each time: nudges must survive a restart.
        result = await tracker(db, clock, fake_github, fake_pypi, http).run_pass()
        return [n for p in result.progress for n in p.nudges]

    assert await nudges_after(days=6, hours=23) == []
    assert await nudges_after(hours=1) == ["requester"]
    assert await nudges_after(minutes=10) == []
    assert await nudges_after(days=6, hours=23) == []
    assert await nudges_after(hours=1) == ["maintainers"]
    assert await nudges_after(days=20) == []
    # Progress resets the clock: the next stall is counted from it.
    fake_github.add_member("pallets-eco", "alice")
    assert await nudges_after(minutes=1) == []
    assert await nudges_after(days=6) == []
    assert await nudges_after(days=1) == ["requester"]
    async with db() as s:
        assert await s.scalar(select(func.count()).where(ReviewNudge.request_id == rid)) == 3


async def test_nudge_interval_is_configurable(db, clock, fake_github, fake_pypi, http, world):
    await approved_request(db, clock, world["id"])
    svc = tracker(db, clock, fake_github, fake_pypi, http, tracking={"nudge_after_days": 1})
    clock.advance(days=2, minutes=1)
    result = await svc.run_pass()
    assert [n for p in result.progress for n in p.nudges] == ["requester", "maintainers"]


async def test_tick_rejects_unknown_items_and_requests_not_in_progress(db, clock, fake_github, fake_pypi, http):
    svc = tracker(db, clock, fake_github, fake_pypi, http)
    pending = await add_request(db, clock)
    with pytest.raises(InvalidInput):
        await svc.tick(pending, "readthedocs", MAINT_A, True)
    rid = await approved_request(db, clock, None, repo="alice/flask-nopypi", pypi=None)
    with pytest.raises(InvalidInput):
        await svc.tick(rid, "nonsense", MAINT_A, True)
    with pytest.raises(InvalidInput):
        await svc.tick(rid, "test_pypi", MAINT_A, True)  # not on a checklist without a PyPI project


async def test_invitation_retries_ride_along_with_the_pass(db, clock, fake_github, fake_pypi, http, world):
    rid = await approved_request(db, clock, world["id"])
    svc = tracker(db, clock, fake_github, fake_pypi, http, admin_token=ADMIN_TOKEN)
    result = await svc.run_pass()
    assert [(i.request_id, i.state) for i in result.invitations] == [(rid, "sent")]
    assert (await svc.run_pass()).invitations == []
    assert len(fake_github.invitations) == 1
