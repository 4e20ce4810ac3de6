"""PyPI as Warehouse really answers (issue 14, items 1, 2, 5, 6, 7): organisation rights, quarantine,
normalised names, yanked releases, and release times from the simple index instead of the deprecated key."""

# The fixtures are shared with test_review.py; importing them makes ruff see the parameters as redefinitions.
# ruff: noqa: F811

from __future__ import annotations

import pytest

import bot.pypi
from bot.config import ConfigError
from bot.db.models.transfers import TransferRequest
from bot.http import NotFound
from bot.services.eligibility import EligibilityService
from bot.services.verification import VerificationService
from tests.services.test_review import (  # noqa: F401  (fixtures are used by name)
    add_request,
    clock,
    db,
    fake_github,
    fake_pypi,
    github_client,
    http,
    make_settings,
    pypi_client,
)
from tests.services.test_tracking import approved_request, done_keys, items, tracker

README = "# Flask-Thing\n\nA Flask extension for things.\n"


@pytest.fixture
def world(fake_github, fake_pypi):
    repo = fake_github.add_repo("alice/flask-thing", readme=README, admins=["alice"])
    fake_pypi.add_project("flask-thing", roles=[("Owner", "alice")])
    return repo


def test_trusted_organizations_must_be_pypi_slugs():
    assert make_settings(pypi={"trusted_organizations": ["pallets"]}).pypi.trusted_organizations == ("pallets",)
    with pytest.raises(ConfigError, match="pypi.trusted_organizations"):
        make_settings(pypi={"trusted_organizations": ["https://pypi.org/org/pallets/"]})


# ----- 14.5: one request, for the normalised name ---------------------------------------------------


async def test_a_display_name_costs_one_request_for_the_normalised_name(http, fake_pypi):
    fake_pypi.add_project("Flask-Caching")
    client = pypi_client(http, fake_pypi)
    project = await client.get_project("Flask-Caching")
    assert project.name == "Flask-Caching"
    assert [(r.path, r.status) for r in fake_pypi.requests] == [("/pypi/flask-caching/json", 200)]


# ----- 14.2: quarantine ----------------------------------------------------------------------------


async def test_a_quarantined_project_is_told_apart_from_a_missing_one(http, fake_pypi):
    fake_pypi.add_project("flask-evil", status="quarantined")
    client = pypi_client(http, fake_pypi)
    with pytest.raises(bot.pypi.ProjectQuarantined):
        await client.get_project("Flask-Evil")
    with pytest.raises(NotFound) as missing:
        await client.get_project("flask-nothing")
    assert not isinstance(missing.value, bot.pypi.ProjectQuarantined)


async def test_the_verification_report_says_quarantined(db, clock, http, fake_github, fake_pypi):
    fake_pypi.add_project("flask-thing", status="quarantined", roles=[("Owner", "alice")])
    rid = await add_request(db, clock, pypi="flask-thing")
    settings = make_settings(github_url=fake_github.root_url, pypi_url=fake_pypi.url)
    svc = VerificationService(db, github_client(http, fake_github), clock, settings, pypi=pypi_client(http, fake_pypi))
    check = await svc.pypi_check(rid)
    assert check.warning and "quarantined" in check.message
    assert "no project named" not in check.message


async def test_the_eligibility_report_fails_a_quarantined_project(http, fake_github, fake_pypi):
    fake_github.add_repo("alice/flask-thing", admins=["alice"],
                         files={"pyproject.toml": '[project]\nname = "flask-thing"\ndependencies = ["flask"]\n'})
    fake_pypi.add_project("flask-thing", status="quarantined")
    settings = make_settings(github_url=fake_github.root_url, pypi_url=fake_pypi.url)
    svc = EligibilityService(github_client(http, fake_github), pypi_client(http, fake_pypi), settings)
    report = await svc.evaluate("alice", "flask-thing", pypi_project="flask-thing", github_username="alice")
    checks = {c.key: c for c in report.checks}
    assert checks["pypi_status"].status == "fail" and "quarantined" in checks["pypi_status"].reason
    assert "no project" not in checks["pypi_exists"].reason


async def test_tracking_reports_quarantine_not_absence(db, clock, http, fake_github, fake_pypi, world):
    fake_pypi.set_status("flask-thing", "quarantined")
    rid = await approved_request(db, clock, world["id"])
    result = await tracker(db, clock, fake_github, fake_pypi, http).run_pass()
    assert "quarantined" in result.errors[rid] and "no project" not in result.errors[rid]


# ----- 14.1: rights through a PyPI organisation ----------------------------------------------------


async def test_a_project_in_a_trusted_organisation_counts_as_handed_over(db, clock, http, fake_github, fake_pypi,
                                                                       world):
    # davidism owns the `pallets` organisation: PyPI never lists him in `ownership.roles`.
    fake_pypi.project("flask-thing").update(organization="pallets", org_roles=[("Owner", "davidism")])
    rid = await approved_request(db, clock, world["id"])
    plain = tracker(db, clock, fake_github, fake_pypi, http)
    await plain.run_pass()
    assert "pypi_owner" not in await done_keys(db, rid)  # without the setting the bot can't know
    svc = tracker(db, clock, fake_github, fake_pypi, http, pypi={"trusted_organizations": ["Pallets"]})
    result = await svc.run_pass()
    assert [p.completed for p in result.progress] == [["pypi_owner"]]
    assert (await items(db, rid))["pypi_owner"].note == "in the PyPI organisation pallets"


async def test_requester_role_text_says_organisation_roles_are_invisible(db, clock, http, fake_github, fake_pypi):
    fake_pypi.add_project("flask-thing", roles=[("Owner", "zed")], organization="thing-org",
                          org_roles=[("Owner", "alice")],
                          project_urls={"Source": f"{fake_github.web_url}/alice/flask-thing"})
    rid = await add_request(db, clock, pypi="flask-thing")
    async with db() as s:
        (await s.get(TransferRequest, rid)).pypi_username = "alice"
        await s.commit()
    settings = make_settings(github_url=fake_github.root_url, pypi_url=fake_pypi.url,
                             pypi={"trusted_organizations": ["pallets"]})
    svc = VerificationService(db, github_client(http, fake_github), clock, settings, pypi=pypi_client(http, fake_pypi))
    check = await svc.pypi_check(rid)
    assert "organisation **thing-org**" in check.message and "can't be seen through PyPI's API" in check.message

    fake_pypi.project("flask-thing")["organization"] = "pallets"
    fake_pypi.requests.clear()
    held = await svc.pypi_check(rid)
    assert "which the Pallets maintainers hold" in held.message and not held.warning


async def test_eligibility_role_check_mentions_the_organisation(http, fake_github, fake_pypi):
    fake_github.add_repo("alice/flask-thing", admins=["alice"])
    fake_pypi.add_project("flask-thing", roles=[], organization="thing-org", org_roles=[("Owner", "alice")])
    settings = make_settings(github_url=fake_github.root_url, pypi_url=fake_pypi.url)
    svc = EligibilityService(github_client(http, fake_github), pypi_client(http, fake_pypi), settings)
    report = await svc.evaluate("alice", "flask-thing", pypi_project="flask-thing", pypi_username="alice")
    role = next(c for c in report.checks if c.key == "pypi_role")
    assert "thing-org" in role.reason and "can't be seen through PyPI's API" in role.reason


# ----- 14.6 and 14.7: releases from the simple index, yanked ones excluded ---------------------------


async def moved(db, clock, http, fake_github, fake_pypi, world):
    rid = await approved_request(db, clock, world["id"])
    svc = tracker(db, clock, fake_github, fake_pypi, http)
    clock.advance(hours=1)
    fake_github.transfer_repo("alice/flask-thing", "pallets-eco")
    await svc.run_pass()
    assert "repo_transferred" in await done_keys(db, rid)
    return rid, svc


async def test_a_yanked_release_is_not_the_release_from_the_new_home(db, clock, http, fake_github, fake_pypi, world):
    rid, svc = await moved(db, clock, http, fake_github, fake_pypi, world)
    clock.advance(hours=1)
    fake_pypi.add_release("flask-thing", "2.0.0", clock.now())
    fake_pypi.yank("flask-thing", "2.0.0", "published by mistake")
    clock.advance(minutes=10)
    await svc.run_pass()
    assert "release" not in await done_keys(db, rid)
    fake_pypi.add_release("flask-thing", "2.0.1", clock.now())
    clock.advance(minutes=10)
    await svc.run_pass()
    assert (await items(db, rid))["release"].note.startswith("2.0.1 released")


async def test_release_times_come_from_the_simple_index(db, clock, http, fake_github, fake_pypi, world):
    fake_pypi.releases_key = False  # deprecated: PyPI may drop it (docs.pypi.org/api/json/)
    rid, svc = await moved(db, clock, http, fake_github, fake_pypi, world)
    clock.advance(hours=1)
    fake_pypi.add_release("flask-thing", "2.0.0", clock.now())
    clock.advance(minutes=10)
    await svc.run_pass()
    assert (await items(db, rid))["release"].note.startswith("2.0.0 released")


async def test_versions_are_read_from_wheel_and_sdist_filenames(http, fake_pypi):
    fake_pypi.add_project("Flask-Thing", version="1.0")
    index = await bot.pypi.PyPIClient(http, url=fake_pypi.url).get_index("Flask_Thing")
    assert index.status == "active" and index.versions == ("1.0",)
    assert [f.version for f in index.files] == ["1.0"] and set(index.releases()) == {"1.0"}
    # A PEP 691/700 page as Warehouse writes it: legacy sdist names keep the display name, wheels
    # write '-' in a version as '_', yanked is false, true or the reason.
    page = {
        "name": "flask-thing",
        "versions": ["0.9-beta", "1.0", "1.0.1"],
        "files": [
            {"filename": "Flask-Thing-0.9-beta.tar.gz", "upload-time": "2020-01-01T00:00:00.000000Z"},
            {"filename": "Flask_Thing-0.9_beta-py3-none-any.whl", "upload-time": "2020-01-02T00:00:00Z"},
            {"filename": "Flask-Thing-1.0.zip", "upload-time": "2021-01-01T00:00:00Z", "yanked": "bad"},
            {"filename": "flask_thing-1.0.1-py2.py3-none-any.whl", "upload-time": "2022-01-01T00:00:00Z",
             "yanked": False},
            {"filename": "odd-name.exe", "upload-time": "2023-01-01T00:00:00Z"},
        ],
    }
    parsed = bot.pypi._index(page)
    assert [f.version for f in parsed.files] == ["0.9-beta", "0.9-beta", "1.0", "1.0.1", None]
    assert [f.yanked for f in parsed.files] == [False, False, True, False, False]
    assert {k: v.year for k, v in parsed.releases().items()} == {"0.9-beta": 2020, "1.0.1": 2022, "odd-name.exe": 2023}
