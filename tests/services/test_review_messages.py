"""What the requester and the maintainers read after a decision: the checklist is tailored to the
request (PyPI or not, the requester's PyPI role, org membership), and the queue groups by state."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.config import DiscordSettings, Settings
from bot.db.models.review import ReviewTracking
from bot.db.models.transfers import TransferRequest
from bot.services.eligibility import Check, Report
from bot.services.review import CardData, QueueEntry, Tally
from cogs.review_render import render_card, render_queue, requester_checklist

NOW = datetime(2026, 1, 1, tzinfo=UTC)
SETTINGS = Settings(
    discord=DiscordSettings(guild_id=1, eco_channel_id=2, review_channel_id=3, maintainer_role_ids=(4,))
)


def card(*, pypi: str | None = "flask-thing", role: str | None = "Owner", invitation: str = "sent",
         login: str | None = "alice") -> CardData:
    report = None
    if role is not None:
        report = Report(verdict="eligible", checks=[Check("pypi_role", "pass", "PyPI role", role)],
                        repo_full_name="alice/flask-thing", pypi_project=pypi, pypi_role=role,
                        github_owner="alice").to_json()
    request = TransferRequest(
        id=7, guild_id=1, requester_id=42, state="approved", repo_owner="alice", repo_name="flask-thing",
        repo_key="alice/flask-thing", pypi_project=pypi, github_username=login, verified_github_login=login,
        report_json=report, created_at=NOW, updated_at=NOW, submitted_at=NOW,
    )
    tracking = ReviewTracking(request_id=7, approved_at=NOW, invitation_state=invitation, invitation_login=login)
    return CardData(request=request, tally=Tally(), approvals_required=1, tracking=tracking)


def test_checklist_with_a_pypi_project_covers_every_hand_over_in_order():
    text = requester_checklist(card(), SETTINGS)
    steps = [line for line in text.splitlines() if line[:1].isdigit()]
    assert [s.split(".")[0] for s in steps] == ["1", "2", "3", "4", "5", "6", "7"]
    assert "accept the invitation" in steps[0] and "(sent to **alice**)" in steps[0]
    assert "Transfer the repository" in steps[1]
    assert "`davidism` an **Owner** of `flask-thing`" in steps[2] and "Maintainer" not in steps[2]
    assert "`pallets-eco/flask-thing`" in steps[3] and "`publish.yaml`" in steps[3]
    assert "Read the Docs and Test PyPI" in steps[5] and "Cut a release" in steps[6]


def test_checklist_without_pypi_leaves_the_pypi_steps_out():
    text = requester_checklist(card(pypi=None, role=None), SETTINGS)
    assert "PyPI" not in text.replace("Test PyPI", "")  # no owner, publishing or release step
    assert "Cut a release" not in text and "Trusted publishing" not in text
    assert "Read the Docs: add" in text


def test_checklist_warns_a_pypi_maintainer_that_only_an_owner_can_hand_over():
    text = requester_checklist(card(role="Maintainer"), SETTINGS)
    assert "only an Owner can add Owners, so ask the current Owner" in text


def test_checklist_says_so_when_the_requester_is_already_in_the_org():
    text = requester_checklist(card(invitation="member"), SETTINGS)
    assert "**alice** is already a member of pallets-eco" in text and "accept the invitation" not in text


def test_checklist_says_a_maintainer_invites_when_the_bot_cant():
    assert "a maintainer will invite **alice**" in requester_checklist(card(invitation="manual"), SETTINGS)
    unknown = requester_checklist(card(invitation="manual", login=None), SETTINGS)
    assert "your GitHub account (tell them which one)" in unknown


def test_queue_groups_by_state_with_age_and_what_each_waits_for():
    entries = [
        QueueEntry(1, "alice/flask-a", "submitted", timedelta(minutes=5), "the review card to be posted"),
        QueueEntry(2, "bob/flask-b", "under_review", timedelta(days=3, hours=2), "maintainer votes (0/1 approvals)"),
        QueueEntry(3, "carol/flask-c", "transferring", timedelta(hours=7), "checklist: PyPI owner, new release"),
    ]
    embed = render_queue(entries)
    fields = {f.name: f.value for f in embed.fields}
    assert list(fields) == ["submitted (1)", "under review by maintainers (1)", "transferring (1)"]
    assert fields["submitted (1)"] == "#1 **alice/flask-a** \u00b7 5m \u00b7 the review card to be posted"
    assert "#2 **bob/flask-b** \u00b7 3d \u00b7 maintainer votes" in fields["under review by maintainers (1)"]
    assert "7h \u00b7 checklist: PyPI owner, new release" in fields["transferring (1)"]
    assert render_queue([]).description == "No open transfer requests."


def test_card_shows_a_failing_check_while_tracking():
    data = card()
    data.tracking.last_error = "The repository can't be found any more (deleted or made private?)."
    text = "\n".join(f"{f.name}: {f.value}" for f in render_card(data, SETTINGS).fields)
    assert "Tracking: \u26a0\ufe0f The last check failed: The repository can't be found any more" in text
    data.tracking.last_error = None
    assert "Tracking" not in [f.name for f in render_card(data, SETTINGS).fields]
