"""bot/services/eligibility_classes.py on its own: name normalisation, the cached org listing (cheap,
never blocking a report) and the evidence rules, against the GitHub and PyPI fakes."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot.services.eligibility import ELIGIBLE, NEEDS_DECISION, NOT_ACCEPTED, render_report_text
from bot.services.eligibility_classes import name_key
from tests.services import test_eligibility as base

world = base.world  # the fixture: alice/flask-foo and friends, pallets-eco holding flask-caching
check = base.check

OLD = datetime(2015, 1, 10, tzinfo=UTC)


@pytest.mark.parametrize(
    ("a", "b"),
    [("Flask-Caching", "flask_cache"), ("flask-session2", "Flask-Session"), ("flask-login-ng", "flask-login"),
     ("Flask-Security-Too", "flask-security-fork"), ("Flask-RQ2", "flask-rq"), ("flask-uploads", "flask-upload")],
)
def test_close_names_normalise_to_the_same_key(a, b):
    assert name_key(a) == name_key(b)


@pytest.mark.parametrize(
    ("a", "b"),
    [("flask-jwt-extended", "flask-jwt"), ("flask-mailman", "flask-mail"), ("flask-session-captcha", "flask-session"),
     ("flask-security-txt", "flask-security"), ("flask-reuploaded", "flask-uploads")],
)
def test_different_projects_keep_different_keys(a, b):
    assert name_key(a) != name_key(b)


def test_names_with_nothing_distinctive_have_no_key():
    assert name_key("flask") is None and name_key("python-2") is None and name_key("") is None


async def test_the_org_listing_is_read_once_and_then_conditionally(world):
    gh, _, svc = world
    gh.add_repo("zed/flask-caching", files={"setup.py": "setup(name='Flask-Caching', install_requires=['flask'])"})
    for _ in range(3):
        await svc.evaluate("alice", "flask-foo")
    assert gh.count("GET", r"/orgs/pallets-eco/repos") == 1
    svc._classes.index._read_at = -1e9  # the listing is older than ORG_LIST_TTL
    report = await svc.evaluate("zed", "flask-caching")
    assert gh.count("GET", r"/orgs/pallets-eco/repos") == 2
    # The second listing went out with If-None-Match and was answered 304 (free of rate limit).
    assert svc._github.stats.not_modified >= 1
    assert check(report, "superseded_candidate").status == "warn"


async def test_an_org_listing_outage_never_blocks_or_fails_a_report(world):
    gh, _, svc = world
    gh.add_repo("zed/flask-caching", files={"setup.py": "setup(name='Flask-Caching', install_requires=['flask'])"})
    gh.fail("GET", r"/orgs/pallets-eco/repos", 503, times=10)
    report = await svc.evaluate("zed", "flask-caching")
    assert report.verdict == ELIGIBLE, render_report_text(report)  # no evidence, no refusal
    assert not [c for c in report.checks if c.key.startswith("superseded_")]
    # It is not asked again at once (ORG_LIST_RETRY), so a burst of requests costs one failed call.
    await svc.evaluate("zed", "flask-caching")
    assert gh.count("GET", r"/orgs/pallets-eco/repos") <= 2


async def test_a_close_name_alone_needs_a_decision_and_names_the_org_repo(world):
    gh, _, svc = world
    gh.add_repo("zed/flask-caching", files={"setup.py": "setup(name='Flask-Caching', install_requires=['flask'])"})
    report = await svc.evaluate("zed", "flask-caching")
    assert report.verdict == NEEDS_DECISION
    found = check(report, "superseded_candidate")
    assert f"{gh.web_url}/pallets-eco/flask-caching already covers it" in found.reason
    assert found.decision


async def test_an_org_fork_of_the_repository_and_years_of_silence_are_not_accepted(world):
    gh, pypi, svc = world
    setup_py = "setup(name='Flask-Views', install_requires=['flask'])"
    gh.add_repo("old/flask-views", pushed_at=OLD, files={"setup.py": setup_py})
    gh.add_repo("pallets-eco/flask-classful", fork_of="old/flask-views",
                files={"pyproject.toml": '[project]\nname = "Flask-Classful"\ndependencies = ["flask"]\n'})
    report = await svc.evaluate("old", "flask-views")
    assert report.verdict == NOT_ACCEPTED, render_report_text(report)
    reason = check(report, "superseded_successor").reason
    assert "pallets-eco/flask-classful" in reason and "GitHub lists it as a fork of this repository" in reason
    assert "no push since 2015-01" in reason
    assert "already covers this one" in report.advice


async def test_a_fork_of_an_org_repository_is_not_accepted(world):
    gh, _, svc = world
    gh.add_repo("pat/flask-caching", fork_of="pallets-eco/flask-caching",
                files={"setup.py": "setup(name='Flask-Caching', install_requires=['flask'])"})
    report = await svc.evaluate("pat", "flask-caching")
    assert report.verdict == NOT_ACCEPTED
    assert "as a fork of it" in check(report, "superseded_successor").reason


async def test_core_copy_outside_pallets_is_not_accepted_with_the_fork_pointer(world):
    gh, _, svc = world
    gh.add_repo("zed/my-click", files={"pyproject.toml": '[project]\nname = "click"\n'})
    report = await svc.evaluate("zed", "my-click")
    assert (report.verdict, report.kind) == (NOT_ACCEPTED, "core_copy")
    assert f"{gh.web_url}/pallets/click" in check(report, "core_copy_package").reason
    assert "pull requests" in report.advice


async def test_an_app_without_flask_pin_or_layout_stays_a_decision(world):
    gh, _, svc = world
    gh.add_repo("zed/scripts", files={"notes.md": "", "tool.py": ""})
    report = await svc.evaluate("zed", "scripts")
    assert report.verdict == NEEDS_DECISION and report.kind == "unknown"


async def test_an_app_published_on_pypi_under_its_name_is_not_called_an_application(world):
    gh, pypi, svc = world
    gh.add_repo("zed/shopapp", files={"requirements.txt": "flask\n", "app/__init__.py": "", "wsgi.py": ""})
    pypi.add_project("shopapp", project_urls={"Source": "https://github.com/zed/shopapp"})
    report = await svc.evaluate("zed", "shopapp")
    assert not [c for c in report.checks if c.key.startswith("application_")]
