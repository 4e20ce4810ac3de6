"""The eligibility report on realistic repositories, against the loopback GitHub and PyPI fakes."""

from __future__ import annotations

import aiohttp
import pytest

from bot.config import DiscordSettings, GitHubSettings, PyPISettings, Settings
from bot.github import GitHubClient
from bot.pypi import PyPIClient
from bot.services.eligibility import (
    ELIGIBLE,
    NEEDS_DECISION,
    NOT_ACCEPTED,
    ChecksUnavailable,
    EligibilityService,
    Report,
    render_report_text,
)
from tests.fakes.github import FakeGitHub
from tests.fakes.pypi import FakePyPI

EXT_PYPROJECT = """
[build-system]
requires = ["flit_core<4"]
build-backend = "flit_core.buildapi"

[project]
name = "Flask-Foo"
version = "1.2.0"
dependencies = ["flask>=2.3", "requests>=2"]
classifiers = ["Framework :: Flask", "License :: OSI Approved :: BSD License"]
"""

ADJACENT_SETUP_CFG = """
[metadata]
name = cronlike
description = Cron expressions for Python

[options]
packages = find:
install_requires =
    python-dateutil>=2.8
"""

CLICK_SETUP_PY = """
from setuptools import setup

setup(
    name="click-colors",
    version="0.3",
    install_requires=["Click>=8.0", "colorama"],
)
"""


def build_world(gh: FakeGitHub, pypi: FakePyPI) -> None:
    """Repositories and PyPI projects like the ones people actually ask to transfer."""
    gh.add_org("pallets-eco")
    gh.add_org("pallets")
    gh.add_repo(
        "pallets/flask",
        description="The Python micro framework",
        license="BSD-3-Clause",
        files={"pyproject.toml": '[project]\nname = "Flask"\ndependencies = ["Werkzeug>=3"]\n'},
    )
    # An extension: depends on flask, published, links back, owned by alice on PyPI.
    gh.add_repo(
        "alice/flask-foo",
        description="Foo support for Flask",
        license="BSD-3-Clause",
        files={"pyproject.toml": EXT_PYPROJECT, "src/flask_foo/__init__.py": "", "README.md": "# Flask-Foo"},
    )
    pypi.add_project(
        "Flask-Foo",
        requires_dist=["flask>=2.3", "requests>=2", "pytest; extra == 'test'"],
        classifiers=["Framework :: Flask"],
        project_urls={"Source": "https://github.com/alice/flask-foo", "Docs": "https://flask-foo.rtfd.io"},
        roles=[("Owner", "alice"), ("Maintainer", "mallory")],
    )
    # Unpublished Click extension with setup.py (PyPI name detected but not on PyPI).
    gh.add_repo("alice/click-colors", license="MIT", files={"setup.py": CLICK_SETUP_PY, "click_colors.py": ""})
    # An adjacent library: no Pallets dependency.
    gh.add_repo(
        "alice/cronlike",
        description="Cron expressions",
        license="MIT",
        files={
            "setup.cfg": ADJACENT_SETUP_CFG,
            "setup.py": "from setuptools import setup\nsetup()\n",
            "cronlike/__init__.py": "",
        },
    )
    pypi.add_project(
        "cronlike",
        requires_dist=["python-dateutil>=2.8"],
        project_urls={"Homepage": "https://github.com/alice/cronlike/"},
        roles=[("Owner", "alice")],
    )
    # A documentation translation.
    gh.add_repo(
        "bob/flask-docs-fr",
        description="Traduction française de la documentation de Flask",
        license="BSD-3-Clause",
        files={
            "locales/fr/LC_MESSAGES/index.po": 'msgid "Welcome"\nmsgstr "Bienvenue"\n',
            "docs/conf.py": "project = 'Flask'\n",
            "README.md": "Flask en français",
        },
    )
    gh.add_repo("bob/flask-zh", description="Flask 中文文档翻译", license=None, files={"docs/index.rst": "Flask"})
    # A translation managed with uv: a pyproject.toml that only pins Sphinx and Flask (for autodoc).
    gh.add_repo(
        "carlos/flask-docs-es",
        description="Traducción al español de la documentación de Flask",
        license="BSD-3-Clause",
        files={
            "pyproject.toml": '[project]\nname = "flask-docs-es"\ndependencies = ["sphinx", "flask"]\n',
            "locales/es/LC_MESSAGES/index.po": 'msgid "Welcome"\nmsgstr "Bienvenido"\n',
            "docs/conf.py": "project = 'Flask'\n",
        },
    )
    # An unpublished extension that ships its own translations: still an extension.
    gh.add_repo(
        "alice/flask-babelish",
        description="Babel helpers for Flask apps",
        license="MIT",
        files={
            "pyproject.toml": '[project]\nname = "flask-babelish"\ndependencies = ["flask"]\n',
            "translations/de/LC_MESSAGES/messages.po": 'msgid "Hi"\nmsgstr "Hallo"\n',
            "flask_babelish/__init__.py": "",
        },
    )
    # A cookiecutter template and an application.
    gh.add_repo(
        "carol/cookiecutter-flask-app",
        description="Start a Flask app in seconds",
        files={
            "cookiecutter.json": '{"project_slug": "app"}',
            "{{cookiecutter.project_slug}}/pyproject.toml": '[project]\nname = "{{cookiecutter.project_slug}}"\n',
        },
    )
    gh.add_repo(
        "carol/todo",
        description="My todo list web app",
        files={
            "app.py": "from flask import Flask\n",
            "wsgi.py": "from app import app\n",
            "templates/index.html": "<html></html>",
            "requirements.txt": "flask\n",
            "pyproject.toml": '[project]\nname = "todo"\ndependencies = ["flask"]\n',
        },
    )
    # Already in the org, and reachable under its old name through a 301.
    gh.add_repo("sh4nks/flask-caching", files={"setup.py": 'setup(name="Flask-Caching", install_requires=["Flask"])'})
    gh.transfer_repo("sh4nks/flask-caching", "pallets-eco")
    # Archived; a fork of someone else's extension; a private repository.
    gh.add_repo(
        "dave/flask-old", archived=True, files={"setup.py": 'setup(name="Flask-Old", install_requires=["Flask"])'}
    )
    gh.add_repo("fred/flask-session", files={"setup.py": 'setup(name="Flask-Session", install_requires=["flask"])'})
    gh.add_repo(
        "erin/flask-session",
        fork_of="fred/flask-session",
        files={"setup.py": 'setup(name="Flask-Session2", install_requires=["flask"])'},
    )
    gh.add_repo("alice/secret-ext", private=True, files={"setup.py": 'setup(name="x")'})
    gh.add_repo(
        "alice/weird-license", license="CC-BY-4.0", files={"setup.py": 'setup(name="wl", install_requires=["jinja2"])'}
    )
    pypi.add_project(
        "Flask-Quarantined",
        project_urls={"Source": "https://github.com/alice/flask-foo"},
        status="quarantined",
        roles=[("Owner", "alice")],
    )


@pytest.fixture
async def world():
    async with FakeGitHub() as gh, FakePyPI() as pypi, aiohttp.ClientSession() as http:
        build_world(gh, pypi)
        settings = Settings(
            discord=DiscordSettings(guild_id=1, eco_channel_id=2, review_channel_id=3, maintainer_role_ids=(4,)),
            github=GitHubSettings(api_url=gh.api_url, web_url=gh.web_url),
            pypi=PyPISettings(url=pypi.url),
        )
        github = GitHubClient(
            http,
            api_url=gh.api_url,
            web_url=gh.web_url,
            token=gh.bot_token,
            timeout=2,
            retries=1,
            retry_base_delay=0.01,
        )
        py = PyPIClient(http, url=pypi.url, timeout=2, retries=1, retry_base_delay=0.01)
        yield gh, pypi, EligibilityService(github, py, settings)


def check(report: Report, key: str):
    found = [c for c in report.checks if c.key == key]
    assert found, f"no {key} check in {[c.key for c in report.checks]}"
    return found[0]


async def test_extension_is_eligible(world):
    gh, pypi, svc = world
    report = await svc.evaluate(
        "alice", "flask-foo", pypi_project="Flask-Foo", github_username="alice", pypi_username="alice"
    )
    assert report.verdict == ELIGIBLE, render_report_text(report)
    assert report.kind == "extension"
    assert "flask" in check(report, "kind").reason
    assert {c.status for c in report.checks} == {"pass"}
    assert report.pypi_role == "Owner" and report.github_owner == "alice"
    assert report.github_repo_id == gh.repo("alice/flask-foo")["id"]
    assert report.advice is None
    assert check(report, "license").reason.startswith("BSD-3-Clause")


async def test_pypi_maintainer_is_warned_loudly_and_absent_user_too(world):
    _, _, svc = world
    report = await svc.evaluate("alice", "flask-foo", pypi_project="flask_foo", pypi_username="Mallory")
    role = check(report, "pypi_role")
    assert role.status == "warn" and "MAINTAINER" in role.title and "CANNOT add owners" in role.reason
    assert "alice" in role.reason  # who the Owner is
    assert report.pypi_role == "Maintainer" and report.pypi_project == "Flask-Foo"
    # A missing role is a warning, not a refusal: the owner may add the user later.
    report = await svc.evaluate("alice", "flask-foo", pypi_project="Flask-Foo", pypi_username="nobody")
    assert check(report, "pypi_role").status == "warn" and report.pypi_role is None
    assert report.verdict == ELIGIBLE
    report = await svc.evaluate("alice", "flask-foo", pypi_project="Flask-Foo")
    assert "No PyPI username" in check(report, "pypi_role").reason


async def test_project_name_is_detected_from_the_package_files(world):
    _, _, svc = world
    report = await svc.evaluate("alice", "flask-foo")
    assert (report.pypi_project, report.pypi_project_source) == ("Flask-Foo", "pyproject.toml")
    assert check(report, "pypi_links").status == "pass"
    report = await svc.evaluate("alice", "click-colors")
    assert (report.pypi_project, report.pypi_project_source) == ("click-colors", "setup.py")
    assert "not published" in check(report, "pypi_exists").reason
    assert report.kind == "extension" and "click" in check(report, "kind").reason
    assert report.verdict == ELIGIBLE


async def test_adjacent_library_needs_a_decision(world):
    _, _, svc = world
    report = await svc.evaluate("alice", "cronlike", github_username="alice", pypi_username="alice")
    assert report.verdict == NEEDS_DECISION
    assert report.kind == "adjacent"
    assert report.pypi_project_source == "setup.cfg"
    assert report.reasons[0].startswith("Adjacent")


@pytest.mark.parametrize("repo", ["bob/flask-docs-fr", "bob/flask-zh", "carlos/flask-docs-es"])
async def test_docs_translation_is_not_accepted_with_a_pointer(world, repo):
    _, _, svc = world
    owner, name = repo.split("/")
    report = await svc.evaluate(owner, name, github_username=owner)
    assert report.verdict == NOT_ACCEPTED
    assert report.kind == "translation"
    assert "pallets-eco/flask-docs-translations" in report.advice
    assert "Flask Community Working Group" in report.advice


async def test_an_extension_with_its_own_translations_stays_an_extension(world):
    _, _, svc = world
    report = await svc.evaluate("alice", "flask-babelish", github_username="alice")
    assert (report.verdict, report.kind) == (ELIGIBLE, "extension"), render_report_text(report)


@pytest.mark.parametrize(
    ("repo", "kind"), [("carol/cookiecutter-flask-app", "template"), ("carol/todo", "application")]
)
async def test_templates_and_applications_are_not_accepted(world, repo, kind):
    _, _, svc = world
    owner, name = repo.split("/")
    report = await svc.evaluate(owner, name)
    assert (report.verdict, report.kind) == (NOT_ACCEPTED, kind)
    assert "not applications or project templates" in report.advice


async def test_repo_already_in_the_org_is_found_through_the_301(world):
    gh, _, svc = world
    report = await svc.evaluate("sh4nks", "flask-caching")
    assert report.verdict == NOT_ACCEPTED
    assert report.repo_full_name == "pallets-eco/flask-caching" and report.moved_from == "sh4nks/flask-caching"
    assert "moved here from sh4nks/flask-caching" in check(report, "not_in_org").reason
    assert "already in pallets-eco" in report.advice
    assert gh.count("GET", r"/repositories/\d+$") == 1


async def test_core_pallets_repository(world):
    _, _, svc = world
    report = await svc.evaluate("pallets", "flask")
    assert report.verdict == NOT_ACCEPTED and check(report, "not_core").status == "fail"
    assert "palletsprojects.com/contributing" in report.advice


async def test_archived_repository(world):
    _, _, svc = world
    report = await svc.evaluate("dave", "flask-old")
    assert report.verdict == NOT_ACCEPTED and check(report, "not_archived").status == "fail"
    assert "Unarchive" in report.advice


async def test_fork_says_whose_fork(world):
    _, _, svc = world
    report = await svc.evaluate("erin", "flask-session", github_username="erin")
    fork = check(report, "fork")
    assert fork.status == "warn" and "fred/flask-session" in fork.reason and "owned by fred" in fork.reason
    assert report.verdict == NEEDS_DECISION


async def test_non_owner_is_pointed_to_the_fork_path(world):
    _, _, svc = world
    report = await svc.evaluate("fred", "flask-session", github_username="erin")
    assert report.verdict == NOT_ACCEPTED
    assert check(report, "requester_owner").status == "fail"
    assert "belongs to fred, not to erin" in check(report, "requester_owner").reason
    assert "fork it" in report.advice and "https://palletsprojects.com/ecosystem" in report.advice


@pytest.mark.parametrize(
    ("owner", "name", "word"), [("alice", "secret-ext", "private"), ("alice", "nope", "no public")]
)
async def test_private_or_unknown_repository(world, owner, name, word):
    _, _, svc = world
    report = await svc.evaluate(owner, name)
    assert report.verdict == NOT_ACCEPTED and word in check(report, "repo_public").reason
    assert "Check the spelling" in report.advice


async def test_pypi_project_problems(world):
    _, _, svc = world
    report = await svc.evaluate("alice", "flask-foo", pypi_project="Flask-Quarantined", pypi_username="alice")
    assert check(report, "pypi_status").status == "fail" and report.verdict == NOT_ACCEPTED
    report = await svc.evaluate("alice", "cronlike", pypi_project="Flask-Foo")
    links = check(report, "pypi_links")
    assert links.status == "warn" and "alice/flask-foo" in links.reason
    report = await svc.evaluate("alice", "flask-foo", pypi_project="Flask-Typo")
    assert check(report, "pypi_exists").status == "warn" and report.verdict == NEEDS_DECISION


async def test_pypi_archived_status_and_missing_links(world):
    _, pypi, svc = world
    pypi.set_status("Flask-Foo", "archived")
    pypi.project("Flask-Foo")["project_urls"] = None
    report = await svc.evaluate("alice", "flask-foo", pypi_username="alice")
    assert check(report, "pypi_status").status == "warn"
    assert "no link" in check(report, "pypi_links").reason
    assert report.verdict == NEEDS_DECISION


async def test_license_not_osi(world):
    _, _, svc = world
    report = await svc.evaluate("alice", "weird-license")
    assert check(report, "license").status == "warn" and "CC-BY-4.0" in check(report, "license").reason
    assert report.kind == "extension"


@pytest.mark.parametrize("fault", ["down", "rate", "pypi"])
async def test_outages_raise_checks_unavailable(world, fault):
    gh, pypi, svc = world
    if fault == "down":
        gh.down = True
    elif fault == "rate":
        gh.set_rate_limit(0, login=gh.bot_login)
    else:
        pypi.down = True
    with pytest.raises(ChecksUnavailable) as info:
        await svc.evaluate("alice", "flask-foo", pypi_project="Flask-Foo")
    assert info.value.service == ("PyPI" if fault == "pypi" else "GitHub")
    if fault == "rate":
        assert info.value.retry_after is not None and info.value.retry_after > 0


async def test_report_round_trips_through_json_and_renders(world):
    _, _, svc = world
    report = await svc.evaluate("bob", "flask-docs-fr")
    again = Report.from_json(report.to_json())
    assert again == report
    text = render_report_text(report)
    assert text.startswith("bob/flask-docs-fr: NOT ACCEPTED (translation)")
    assert "[fail] Kind of project" in text and "What to do instead" in text
    assert report.counts()["fail"] == 1
