"""`python -m bot eligibility` (a real child process against the fakes) names the evidence of the
three hard classes of issue 15: a pallets-eco successor, a copy of a core project, an application."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from tests.e2e.test_process import _spawn, world  # noqa: F401 - `world` is the fixture
from tests.services.test_eligibility import build_world


async def test_eligibility_command_names_the_successor_and_the_evidence(world):  # noqa: F811
    _, config, github, pypi = world
    build_world(github, pypi)
    old = datetime(2014, 4, 20, tzinfo=UTC)
    github.add_repo("thadeus/flask-cache", pushed_at=old,
                    files={"setup.py": "setup(name='Flask-Cache', install_requires=['Flask'])"})
    pypi.add_project("Flask-Cache", version="0.13.1", releases={"0.13.1": old}, requires_dist=["Flask"],
                     description="Deprecated: use Flask-Caching instead.")
    github.add_repo("carol/shop", files={"requirements.txt": "Flask==3.0.2\n", "app/__init__.py": "",
                                         "templates/index.html": "", "wsgi.py": ""})
    proc = await _spawn(config, "eligibility", "thadeus/flask-cache")
    out, err = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 0, err.decode()
    text = out.decode()
    assert text.startswith("thadeus/flask-cache: NOT ACCEPTED")
    assert f"[fail] Not superseded by a pallets-eco project: {github.web_url}/pallets-eco/flask-caching" in text
    assert "no push since 2014-04" in text and "https://pypi.org/project/Flask-Cache/" in text

    proc = await _spawn(config, "eligibility", "carol/shop")
    out, err = await asyncio.wait_for(proc.communicate(), 30)
    text = out.decode()
    assert text.startswith("carol/shop: NOT ACCEPTED (application)"), text + err.decode()
    assert "requirements.txt requires flask==3.0.2" in text and "pallets-eco takes installable extensions" in text


async def test_eligibility_command_prints_no_terminal_escape_from_outside_data(world):  # noqa: F811
    _, config, github, pypi = world
    build_world(github, pypi)
    github.add_repo("mallory/flask-esc", license=None, files={"pyproject.toml": '[project]\nname = "flask-esc"\n'
                                                                  'dependencies = ["flask"]\n'})
    # A PyPI author writes the license expression: ESC ] 0 ; (set the terminal title) and a CSI clear.
    pypi.add_project("flask-esc", version="1.0", requires_dist=["Flask"],
                     license_expression="MIT\x1b]0;owned\x07\x1b[2J\u202e")
    proc = await _spawn(config, "eligibility", "mallory/flask-esc")
    out, err = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 0, err.decode()
    text = out.decode()
    assert "\x1b" not in text and "\x07" not in text and "\u202e" not in text
    assert "owned" in text  # shown, defused
