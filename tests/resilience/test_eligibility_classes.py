"""Superseded projects, copies of core projects and applications end to end (issue 15): the real bot
through the transfer form, the `/eco transfer` answer and the review card, against the fakes; and
hostile PyPI/GitHub text, which must never reach a message."""

from __future__ import annotations

from datetime import UTC, datetime

from tests.resilience._support import (
    assert_no_pings,
    card_of,
    custom_id,
    setup_transfer_world,
    submit,
    to_ready,
    wait_card,
)

OLD = datetime(2014, 4, 20, tzinfo=UTC)


def add_abandoned_cache_extension(h, *, description: str = "", summary: str = "Adds cache support") -> None:
    """alice's Flask-Cache: abandoned in 2014; its PyPI page says to use Flask-Caching, which lives in
    pallets-eco (build_world moves sh4nks/flask-caching there)."""
    h.github.add_repo(
        "alice/flask-cache",
        description="Cache extension for Flask",
        pushed_at=OLD,
        admins=["alice"],
        files={"setup.py": "setup(name='Flask-Cache', install_requires=['Flask'])", "flask_cache/__init__.py": ""},
    )
    h.pypi.add_project(
        "Flask-Cache",
        summary=summary,
        description=description or "This extension is deprecated: use Flask-Caching instead.",
        requires_dist=["Flask"],
        project_urls={"Source": "https://github.com/alice/flask-cache"},
        version="0.13.1",
        roles=[("Owner", "alice")],
        releases={"0.13.1": OLD},
    )


async def _submit(h, **form):
    msg = await to_ready(h, **form)
    _, answer = await submit(h, msg)
    rid = int(custom_id(msg, "submit").rsplit(":", 1)[1])
    return rid, answer


async def test_a_superseded_extension_names_the_org_project_with_links_on_the_answer_and_the_card(harness):
    h = harness
    setup_transfer_world(h)
    add_abandoned_cache_extension(h)
    rid, answer = await _submit(h, repository="https://github.com/alice/flask-cache", pypi_project="Flask-Cache")
    successor = f"{h.github.web_url}/pallets-eco/flask-caching"
    # The requester's answer: the verdict, the successor as a link, the evidence and what to do instead.
    text = answer.text()
    assert "not accepted" in text.lower()
    assert successor in text
    assert "https://pypi.org/project/Flask-Cache/" in text and "no push since 2014-04" in text
    assert "already covers this one: please help there" in text
    # The maintainers' card names the same repository with the evidence, in one click.
    card = await card_of(h, rid)
    assert "NOT ACCEPTED" in card.text()
    assert successor in card.text() and "last PyPI release 2014-04" in card.text(), card.text()
    assert_no_pings(card)


async def test_a_copy_of_flask_and_an_application_are_not_accepted_with_their_evidence(harness):
    h = harness
    setup_transfer_world(h)
    h.github.add_repo(
        "alice/flask-docs-pt",
        description="Tradução da documentação do Flask",
        admins=["alice"],
        files={"pyproject.toml": '[project]\nname = "Flask"\ndependencies = ["Werkzeug>=3"]\n', "docs/index.rst": ""},
    )
    h.github.add_repo(
        "alice/todo-site",
        description="My site",
        admins=["alice"],
        files={
            "requirements.txt": "click==8.1.7\nFlask==3.0.2\n",
            "app/__init__.py": "",
            "migrations/env.py": "",
            "wsgi.py": "",
        },
    )
    rid, answer = await _submit(h, repository="https://github.com/alice/flask-docs-pt", pypi_project="")
    assert f"{h.github.web_url}/pallets/flask" in answer.text()
    assert "pallets-eco/flask-docs-translations" in answer.text()  # the translation pointer
    card = await card_of(h, rid)
    assert "copy or fork of Flask" in card.text()

    rid, answer = await _submit(h, repository="https://github.com/alice/todo-site", pypi_project="")
    text = answer.text()
    assert "requirements.txt requires flask==3.0.2" in text
    assert f"{h.github.web_url}/alice/todo-site/blob/main/requirements.txt#L2" in text
    assert "pallets-eco takes installable extensions" in text
    await wait_card(h, rid, "An application, not an installable extension")


async def test_hostile_pypi_and_github_text_never_reaches_a_message(harness):
    h = harness
    setup_transfer_world(h)
    hostile = (
        "@everyone DEPRECATED!! use [Flask-Caching](https://evil.example/x) instead <@&123456789012345678> "
        + "`" * 5000 + "[a](b" * 20000
    )
    add_abandoned_cache_extension(h, description=hostile, summary="@here " + "*" * 500)
    h.github.repo("alice/flask-cache")["description"] = "@everyone <script> use pallets-eco/flask-caching instead"
    rid, answer = await _submit(h, repository="https://github.com/alice/flask-cache", pypi_project="Flask-Cache")
    card = await card_of(h, rid)
    for msg in (answer, card):
        text = msg.text()
        assert "evil.example" not in text and "<script>" not in text and "@everyone" not in text
        assert_no_pings(msg)
    # The evidence is still read from the bounded text: the successor is named.
    assert f"{h.github.web_url}/pallets-eco/flask-caching" in card.text()
