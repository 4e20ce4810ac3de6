"""Fixtures: `harness` (the real bot against loopback fakes) and `make_harness` for other settings."""

from __future__ import annotations

import pytest

from tests.harness import Harness


@pytest.fixture
async def make_harness(tmp_path):
    made: list[Harness] = []

    async def factory(**overrides) -> Harness:
        path = tmp_path / f"h{len(made)}"
        path.mkdir()
        harness = await Harness.create(path, **overrides)
        made.append(harness)
        return harness

    yield factory
    for harness in made:
        await harness.close()


@pytest.fixture
async def harness(make_harness) -> Harness:
    return await make_harness()


@pytest.fixture(autouse=True)
def _drop_test_databases():
    """ECO_TEST_DATABASE=postgres: drop the PostgreSQL databases the test made (tests/dburl.py)."""
    yield
    from tests import dburl

    dburl.drop_created()
