"""The radar against PyPI as Warehouse answers (warehouse/legacy/api/json.py): with every release of a
project yanked, `info.version` is the newest yanked release and `info.yanked` is true. `/eco health` must
not present that release as the project's live latest one, nor date it, nor count its requirements as a cap
(pip skips yanked releases, PEP 592)."""

from __future__ import annotations

from tests.resilience.test_radar import ORG, ago, eco, prime, world

__all__ = ["eco"]


async def test_a_project_whose_every_release_is_yanked_shows_no_live_release(eco):
    world(eco)
    eco.github.add_repo(f"{ORG}/flask-gone", owner_type="Organization", pushed_at=ago(days=2))
    eco.pypi.add_project("flask-gone", version="1.2", requires_dist=["flask<2"], releases={"1.2": ago(days=20)})
    eco.pypi.yank("flask-gone", "1.2", "broken upload")
    await prime(eco)

    one = await eco.slash(eco.USER, "eco health", project="flask-gone")
    fields = {f["name"]: f["value"] for f in (await one.wait_message()).embeds[0]["fields"]}
    assert "yanked" in fields["Latest release"]
    assert "weeks ago" not in fields["Latest release"] and "days ago" not in fields["Latest release"]
    assert "excludes" not in fields.get("Flags", "") and "flask<2" not in fields.get("Pallets requirements", "")

    org = await eco.slash(eco.USER, "eco health")
    [line] = [x for x in (await org.wait_message()).embeds[0]["description"].splitlines() if "flask-gone" in x]
    assert "yanked" in line and "no release read" not in line
