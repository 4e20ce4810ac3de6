"""The radar cost benchmark still runs (benchmarks/radar_cost.py), on a small org; the one figure the
radar promises is asserted: with nothing changed, its GitHub refresh costs no rate limit."""

from __future__ import annotations

from benchmarks import radar_cost


async def test_radar_cost_benchmark_runs(tmp_path, monkeypatch):
    monkeypatch.setattr(radar_cost, "PROJECTS", 4)
    monkeypatch.setattr(radar_cost, "STALE", 1)
    hours = await radar_cost.measure(tmp_path)
    quiet = hours["nothing changes"]
    assert quiet["github requests"] == 4 * 2 + 1 and quiet["github rate-limit cost"] == 0
    assert hours["everything changes"]["github rate-limit cost"] == quiet["github requests"]
