"""Self-test of the fake PyPI: it answers the way Warehouse does where the bot's old code assumed otherwise.

Sources: docs.pypi.org/api/json/ (ownership, deprecated `releases`), warehouse/legacy/api/json.py
(redirect to `normalized_name`, quarantined projects excluded), warehouse/api/simple.py and
warehouse/packaging/utils.py `_simple_detail` (PEP 691/700 JSON, `project-status`, `yanked`), PEP 792.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import aiohttp
import pytest

from tests.fakes.pypi import SIMPLE_JSON, FakePyPI

WHEN = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
async def fake() -> AsyncIterator[FakePyPI]:
    async with FakePyPI() as pypi:
        yield pypi


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def get(http: aiohttp.ClientSession, url: str, accept: str = "application/json") -> tuple[int, dict, object]:
    async with http.get(url, headers={"Accept": accept}, allow_redirects=False) as resp:
        body = await resp.json(content_type=None) if resp.status == 200 else None
        return resp.status, dict(resp.headers), body


async def test_any_other_spelling_redirects_to_the_normalised_name(fake, http):
    fake.add_project("Flask-Caching")
    for spelling in ("Flask-Caching", "Flask_Caching", "flask.caching"):
        status, headers, _ = await get(http, f"{fake.url}/pypi/{spelling}/json")
        assert status == 301 and headers["Location"] == f"{fake.url}/pypi/flask-caching/json"
    status, _, body = await get(http, f"{fake.url}/pypi/flask-caching/json")
    assert status == 200 and body["info"]["name"] == "Flask-Caching"  # the display name stays in the body
    status, headers, _ = await get(http, f"{fake.url}/simple/Flask-Caching/", SIMPLE_JSON)
    assert status == 301 and headers["Location"] == f"{fake.url}/simple/flask-caching/"


async def test_a_quarantined_project_is_404_on_json_but_listed_on_the_simple_index(fake, http):
    fake.add_project("flask-evil", status="quarantined")
    status, _, _ = await get(http, f"{fake.url}/pypi/flask-evil/json")
    assert status == 404
    status, headers, body = await get(http, f"{fake.url}/simple/flask-evil/", SIMPLE_JSON)
    assert status == 200 and headers["Content-Type"].startswith(SIMPLE_JSON)
    assert body["project-status"] == {"status": "quarantined"}
    assert body["files"] == [] and body["versions"] == []  # nothing is offered for download
    status, _, _ = await get(http, f"{fake.url}/simple/no-such-thing/", SIMPLE_JSON)
    assert status == 404


async def test_simple_index_has_versions_upload_times_yanks_and_an_active_status(fake, http):
    fake.add_project("flask-thing", version="1.0.0", releases={"1.0.0": WHEN})
    fake.add_release("flask-thing", "1.1.0", datetime(2025, 4, 1, tzinfo=UTC))
    fake.yank("flask-thing", "1.1.0", "broken wheel")
    fake.add_release("flask-thing", "1.2.0", datetime(2025, 5, 1, tzinfo=UTC))
    fake.yank("flask-thing", "1.2.0")
    _, _, body = await get(http, f"{fake.url}/simple/flask-thing/", SIMPLE_JSON)
    assert body["meta"]["api-version"] == "1.4" and body["project-status"] == {"status": "active"}
    assert body["versions"] == ["1.0.0", "1.1.0", "1.2.0"]
    files = {f["filename"]: f for f in body["files"]}
    assert files["flask_thing-1.0.0.tar.gz"]["upload-time"] == "2025-03-01T12:00:00.000000Z"
    assert [files[f"flask_thing-{v}.tar.gz"]["yanked"] for v in ("1.0.0", "1.1.0", "1.2.0")] == [
        False, "broken wheel", True,
    ]
    # The JSON API flags the same files; its latest version skips yanked releases.
    _, _, project = await get(http, f"{fake.url}/pypi/flask-thing/json")
    assert project["releases"]["1.1.0"][0]["yanked"] is True
    assert project["releases"]["1.1.0"][0]["yanked_reason"] == "broken wheel"
    assert project["info"]["version"] == "1.0.0"


async def test_ownership_lists_direct_roles_only(fake, http):
    fake.add_project(
        "flask-thing",
        roles=[("Maintainer", "bob"), ("Owner", "zed"), ("Owner", "alice")],
        organization="pallets",
        org_roles=[("Owner", "davidism")],  # an owner of the organisation: real rights, never listed
    )
    _, _, body = await get(http, f"{fake.url}/pypi/flask-thing/json")
    assert body["ownership"] == {
        "roles": [
            {"role": "Owner", "user": "alice"},
            {"role": "Owner", "user": "zed"},
            {"role": "Maintainer", "user": "bob"},
        ],
        "organization": "pallets",
    }


async def test_the_deprecated_releases_key_can_be_dropped(fake, http):
    fake.add_project("flask-thing")
    _, _, body = await get(http, f"{fake.url}/pypi/flask-thing/json")
    assert "releases" in body  # Warehouse still sends it today
    fake.releases_key = False
    _, _, body = await get(http, f"{fake.url}/pypi/flask-thing/json")
    assert "releases" not in body and body["urls"]


async def test_info_version_is_the_newest_stable_release_in_version_order():
    """Warehouse's `latest_release_factory`: not yanked, not a pre-release, highest version."""
    from datetime import UTC, datetime

    from tests.fakes.pypi import FakePyPI

    pypi = FakePyPI()
    pypi.add_project("Flask", version="3.0.3", releases={"3.0.3": datetime(2024, 1, 1, tzinfo=UTC)})
    pypi.add_release("Flask", "3.1.0", datetime(2024, 6, 1, tzinfo=UTC))
    pypi.add_release("Flask", "3.2.0rc1", datetime(2024, 7, 1, tzinfo=UTC))
    pypi.add_release("Flask", "2.3.4", datetime(2024, 8, 1, tzinfo=UTC))  # a backport, uploaded later
    assert pypi.project_json(pypi.project("Flask"))["info"]["version"] == "3.1.0"
