"""kill -9 around a radar post: the bot is a real `python -m bot` process with its radar loop on; it is
killed the moment its post about a new core release appears (before or after it could record it), then
restarted after its lease ran out. Exactly one post, and the release is recorded as posted."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update

from bot.db.models.radar import RadarCore, RadarPost, RadarProject
from tests.resilience._support import wait_for
from tests.resilience.test_kill9 import ProcessHarness
from tests.resilience.test_radar import ago, world


class RadarProcess(ProcessHarness):
    async def start(self) -> None:
        await super().start()
        with self.config_path.open("a") as f:  # a pass every ~0.6 s; every project due each pass
            f.write("\n[radar]\npass_minutes = 0.01\nrefresh_minutes = 0.01\n")


def posts(h) -> list:
    return [m for m in h.discord.messages_in(h.REVIEW_CHANNEL) if "Compatibility radar" in m.content]


async def scalar_rows(h, stmt) -> list:
    async with h.db() as s:
        return list((await s.scalars(stmt)).all())


async def test_kill9_right_after_the_radar_post_then_restart_posts_nothing_more(tmp_path):
    h = RadarProcess(tmp_path)
    await h.start()
    try:
        h.github.add_org("pallets-eco")
        world(h)
        await h.start_bot()
        await wait_for(lambda: scalar_rows(h, select(RadarCore).where(RadarCore.project == "flask")),
                       timeout=20, what="the Flask baseline")
        await wait_for(lambda: scalar_rows(h, select(RadarProject).where(RadarProject.on_pypi.is_(True))),
                       timeout=20, what="the eco projects read from PyPI")

        h.pypi.add_release("Flask", "3.1.0", ago(minutes=1))
        await wait_for(lambda: posts(h), timeout=20, what="the radar post")
        await h.kill9()
        # Whatever the dead process managed to record: its lease, if any, has run out by now.
        async with h.db() as s:
            await s.execute(update(RadarPost).where(RadarPost.state == "posting")
                            .values(lease_until=datetime.now(UTC) - timedelta(minutes=1)))
            await s.commit()
        flask_reads = h.pypi.count("GET", r"^/pypi/flask/json$")
        await h.start_bot()
        await wait_for(lambda: h.pypi.count("GET", r"^/pypi/flask/json$") >= flask_reads + 3,
                       timeout=20, what="three more radar passes")
        assert len(posts(h)) == 1
        rows = await scalar_rows(h, select(RadarPost))
        assert [(r.project, r.version, r.state) for r in rows] == [("flask", "3.1.0", "posted")]
        assert rows[0].message_id == posts(h)[0].id
    finally:
        await h.close()
