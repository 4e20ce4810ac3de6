"""The radar's "CI on main" reads push runs only: GitHub's `branch` filter matches a run's head branch
name, so a contributor's pull request from their fork's own `main` is listed under `branch=main` too
(https://docs.github.com/en/rest/actions/workflow-runs#list-workflow-runs-for-a-repository, `event`)."""

from __future__ import annotations

from tests.resilience.test_radar import ORG, ago, eco, prime, world  # noqa: F401 (eco is the fixture)


async def test_a_failing_pull_request_from_a_forks_main_does_not_flag_the_project(eco):  # noqa: F811
    world(eco)
    # fine's own main passes; a newer run of a fork's pull request, also on a branch called main, fails.
    eco.github.add_workflow_run(f"{ORG}/fine", "success", created_at=ago(days=2))
    eco.github.add_workflow_run(f"{ORG}/fine", "failure", created_at=ago(hours=1), event="pull_request")
    await prime(eco)
    answer = await (await eco.slash(eco.USER, "eco health", project="fine")).wait_message()
    fields = {f["name"]: f["value"] for f in answer.embeds[0]["fields"]}
    assert "passing" in fields["CI on main"], fields["CI on main"]
    assert "CI run on main failed" not in fields.get("Flags", "")
