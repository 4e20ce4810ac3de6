"""Self-test of the fake PyPI's `info.version` / `info.yanked`, as Warehouse picks and reports them:
warehouse/legacy/api/json.py `latest_release_factory` (ORDER BY yanked, is_prerelease NULLS LAST,
_pypi_ordering DESC) and `json_release` (`info.yanked`, `info.yanked_reason`)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.test_fake_pypi import fake, get, http

__all__ = ["fake", "http"]

WHEN = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


async def test_info_version_skips_yanked_then_prereleases_in_version_order(fake, http):
    fake.add_project("flask-x", version="1.0", releases={"1.0": WHEN})
    fake.add_release("flask-x", "2.0rc1", WHEN + timedelta(days=2))
    fake.add_release("flask-x", "1.1", WHEN + timedelta(days=1))
    fake.add_release("flask-x", "0.9.1", WHEN + timedelta(days=3))  # a backport, uploaded last
    _, _, body = await get(http, f"{fake.url}/pypi/flask-x/json")
    assert (body["info"]["version"], body["info"]["yanked"]) == ("1.1", False)
    fake.yank("flask-x", "1.1", "broken")
    _, _, body = await get(http, f"{fake.url}/pypi/flask-x/json")
    assert body["info"]["version"] == "1.0"  # not 0.9.1, the newest upload: version order
    for version in ("1.0", "0.9.1"):
        fake.yank("flask-x", version)
    _, _, body = await get(http, f"{fake.url}/pypi/flask-x/json")
    assert body["info"]["version"] == "2.0rc1" and body["info"]["yanked"] is False


async def test_with_every_release_yanked_info_describes_the_newest_yanked_one(fake, http):
    fake.add_project("flask-gone", version="1.0", releases={"1.0": WHEN, "1.1": WHEN + timedelta(days=1)})
    fake.yank("flask-gone", "1.1", "security")
    fake.yank("flask-gone", "1.0")
    _, _, body = await get(http, f"{fake.url}/pypi/flask-gone/json")
    info = body["info"]
    assert (info["version"], info["yanked"], info["yanked_reason"]) == ("1.1", True, "security")
    assert all(f["yanked"] for f in body["urls"])
