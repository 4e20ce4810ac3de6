"""`/eco join` against GitHub's search as documented: a search that hits GitHub's time limit answers 200
with what it found so far and `incomplete_results: true` (docs.github.com/en/rest/search/search#timeouts-
and-incomplete-results). The maintainers' card must then not claim the person did nothing in the org, and
says the counts are lower bounds."""

from __future__ import annotations

from tests.e2e.test_join_flow import ask, h, join_card, prove

__all__ = ["h"]


async def test_timed_out_searches_are_shown_as_lower_bounds_not_as_nothing(h):
    h.github.search_timeouts = 3  # merged PRs, open PRs, issues: each finds half before the time limit
    jid, _ = await prove(h, await ask(h, project="flask-foo"))
    card = (await join_card(h, jid, "waiting for votes")).text()
    assert "Nothing yet in the organisation" not in card
    assert "at least" in card and "incomplete" in card


async def test_complete_searches_say_nothing_about_lower_bounds(h):
    jid, _ = await prove(h, await ask(h, project="flask-foo"))
    card = (await join_card(h, jid, "waiting for votes")).text()
    assert "Merged pull requests: **1**" in card and "at least" not in card and "incomplete" not in card
