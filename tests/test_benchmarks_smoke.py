"""The benchmarks still run: the smallest acknowledgement measurement, real bot in its own process.

Speed is not asserted here (benchmarks/run.py reports it); this only catches a broken benchmark."""

from __future__ import annotations

from benchmarks import ack, github_cost, listener, run, scale, startup  # noqa: F401  (they must import)
from benchmarks.report import Row, Table, percentile
from benchmarks.world import bench_world


def test_percentile_is_nearest_rank():
    values = [float(v) for v in range(1, 31)]
    assert percentile(values, 50) == 15.0
    assert percentile(values, 99) == 30.0  # with 30 samples p99 is the worst one


async def test_three_acknowledgements_of_one_user_are_measured(tmp_path):
    async with bench_world(tmp_path, members=3) as world:
        proc = await ack.start_bot(world, "ours", tmp_path / "smoke.db")
        try:
            assert "about" in ack.available_commands(world)
            run_result = await ack.ack_run(world, "about", users=1, samples=3)
            # A deferred command: the settled run also times the answer, which comes after the ack.
            contribute = await ack.ack_run(world, "contribute", users=1, samples=2, settle=True)
        finally:
            await proc.stop()
    assert run_result.missing == 0 and len(run_result.latencies) == 3
    assert all(0 < latency < ack.DEADLINE for latency in run_result.latencies)

    table = Table("smoke")
    ack.add_ack_rows(table, "section", "/eco about, 1 user", [run_result], [run_result])
    assert [row.metric for row in table.rows] == ["/eco about, 1 user p50", "/eco about, 1 user p99"]
    assert table.rows[1].ratio == 1.0 and table.rows[1].note == "all under 3 s"
    assert "| /eco about, 1 user p99 |" in table.markdown()
    assert isinstance(table.rows[0], Row)

    assert contribute.missing == 0 and len(contribute.answered) == 2
    assert all(ack_s <= answer_s for ack_s, answer_s in zip(contribute.latencies, contribute.answered, strict=True))
    deferred = Table("smoke")
    ack.add_ack_rows(deferred, "section", "/eco contribute, 1 user", [contribute], [run_result], deferred=True)
    assert [row.metric for row in deferred.rows][2:] == [
        "/eco contribute, 1 user answer p50", "/eco contribute, 1 user answer p99"
    ]
    assert deferred.rows[3].ratio is None and deferred.rows[3].note == "answer out, 2 of 2"
    assert "every acknowledgement under 3 s: met" in "\n".join(run.targets(deferred))


async def test_the_scale_mode_measures_two_tiny_sizes(tmp_path):
    table = Table("smoke")
    base = scale.Sizes(tracked=2, issues=20, members=10, repos=2)
    runs = await scale.run_scale(table, tmp_path, factors=(1.0, 2.0), repeats=1, base=base, users=2, rounds=1)
    small, large = runs[0][0], runs[1][0]
    assert (small.sizes, large.sizes) == (base, scale.Sizes(4, 40, 20, 4))
    # Every tracked transfer is read from GitHub on a pass; warm passes are answered by ETags (no cost).
    assert 0 < small.tracking_cold.requests < large.tracking_cold.requests
    assert large.tracking_warm.cost == 0 and large.tracking_warm.requests > 0
    assert (small.issues_cached, large.issues_cached) == (20, 40)
    assert small.refresh_cold.search >= 1 and large.refresh_cold.cost > 0
    assert 0 < large.contribute_ack_p99 <= large.contribute_answer_p99
    assert large.heap_peak > 0 and large.rss > 0 and large.db_bytes > 0
    metrics = [row.metric for row in table.rows]
    assert "tracking pass, warm (nothing changed): rate-limit units" in metrics
    assert "/eco contribute answer p99, 2 users" in metrics
    growth = next(r for r in table.rows if r.metric == "beginner issues in the suggestion cache")
    assert growth.ratio == 2.0 and growth.note.startswith("linear")
