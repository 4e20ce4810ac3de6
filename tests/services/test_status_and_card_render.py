"""Pure rendering: the review card and `/eco status` stay inert and within Discord's embed limits
whatever the requester typed and however many votes or checklist steps there are."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import discord

from bot.config import DiscordSettings, Settings
from bot.db.models.review import ChecklistItem
from bot.db.models.transfers import TransferRequest
from bot.services.eligibility import Check, Report
from bot.services.review import ITEMS, CardData, Tally
from bot.services.transfer_status import ChecklistLine, StatusEntry
from bot.services.transfers import RequestInfo
from cogs.review_render import fit_embed, render_card
from cogs.transfers_render import render_status

NOW = datetime(2026, 1, 1, tzinfo=UTC)
SETTINGS = Settings(
    discord=DiscordSettings(guild_id=1, eco_channel_id=2, review_channel_id=3, maintainer_role_ids=(4,))
)
HOSTILE = "@everyone <@&123456789012345678> **bold** [click](https://evil.example) ||x||\n# Heading\n"
NOTE = "Not verified: GitHub user mallory signed in, but alice/flask-thing is owned by alice."


def assert_within_limits(embed: discord.Embed) -> None:
    data = embed.to_dict()
    assert len(data.get("title", "")) <= 256
    assert len(data.get("description", "")) <= 4096
    assert len(data.get("fields", [])) <= 25
    for f in data.get("fields", []):
        assert 0 < len(f["value"]) <= 1024 and len(f["name"]) <= 256
    assert len(embed) <= 6000


def assert_inert(text: str) -> None:
    """User text can neither ping nor turn into markdown."""
    assert "@everyone" not in text and "<@&123456789012345678>" not in text
    assert "**bold**" not in text and not re.search(r"(?<!\\)\[click\]\(", text) and "\n# Heading" not in text


def hostile_request(**values) -> TransferRequest:
    checks = [Check(f"check{n}", "warn", "A check " * 10, HOSTILE * 3) for n in range(12)]
    report = Report(verdict="needs_decision", checks=checks, repo_full_name="alice/flask-thing",
                    pypi_project="flask-thing", pypi_role="Maintainer", github_owner="alice")
    base = dict(
        id=7, guild_id=1, requester_id=42, state="under_review", repo_owner="alice", repo_name="flask-thing",
        repo_key="alice/flask-thing", pypi_project="flask-thing", github_username="mallory",
        pypi_username="mallory", reason=HOSTILE + "x" * 3900, verdict="needs_decision", report_json=report.to_json(),
        verification_note=NOTE + " " + HOSTILE * 20, created_at=NOW, updated_at=NOW, submitted_at=NOW,
    )
    return TransferRequest(**{**base, **values})


def test_unverified_card_shows_the_note_prominently_and_the_self_declared_caveat():
    card = render_card(CardData(hostile_request(verification_note=NOTE), Tally(), 1, None), SETTINGS)
    assert f"> {discord.utils.escape_markdown(NOTE)}" in card.description  # right under NOT VERIFIED
    verification = next(f.value for f in card.fields if f.name == "Verification")
    assert "Not verified" in verification and "mallory signed in" in verification
    role = next(f.value for f in card.fields if f.name == "PyPI role")
    assert "mallory: **Maintainer**" in role and "self-declared" in role
    assert_within_limits(card)


def test_card_with_hostile_text_and_many_votes_stays_inert_and_within_limits():
    voters = tuple(900_000_000_000_000_000 + n for n in range(60))
    items = [ChecklistItem(request_id=7, key=spec.key, done_at=NOW, note=HOSTILE * 5) for spec in ITEMS]
    data = CardData(hostile_request(), Tally(approvals=voters[:1], looking=voters), 1, None, items=items)
    card = render_card(data, SETTINGS)
    assert_within_limits(card)
    text = "\n".join([card.description or ""] + [f.value for f in card.fields])
    assert_inert(text)
    votes = next(f.value for f in card.fields if f.name == "Votes")
    assert "and 45 more" in votes  # mentions capped, not cut mid-id


def info(n: int, state: str, **values) -> RequestInfo:
    base = dict(
        id=n, requester_id=42, state=state, state_label=state, repo_full_name=f"alice/flask-{n}", pypi_project=None,
        pypi_project_detected=False, github_username="alice", pypi_username="alice", reason=HOSTILE,
        terms_accepted_at=NOW, submitted_at=NOW, created_at=NOW, updated_at=NOW, verdict=None, report=None,
        report_error=None, report_checked_at=None, verified_at=None, verification_note=NOTE + HOSTILE * 30,
    )
    return RequestInfo(**{**base, **values})


def test_status_with_many_long_requests_fits_and_counts_what_is_left_out():
    lines = [
        # Titles come from the config (org, owners), not from users.
        ChecklistLine(spec.key, "A long step title " * 8, NOW + timedelta(days=n) if n % 2 else None,
                      spec.automatic)
        for n, spec in enumerate(ITEMS)
    ]
    entries = [StatusEntry(info(n, "transferring"), lines) for n in range(10)]
    embed = render_status(entries)
    assert_within_limits(embed)
    assert_inert("\n".join(f.value for f in embed.fields))
    shown = {f.name.split(" ")[0] for f in embed.fields}
    assert embed.footer.text == f"{10 - len(shown)} older request(s) not shown."
    # The newest requests come first and keep their checklist with completion times.
    assert embed.fields[0].name.startswith("#0 ") and embed.fields[1].name == "#0 checklist (4/8 done)"
    assert discord.utils.format_dt(NOW + timedelta(days=1), "f") in embed.fields[1].value


def test_fit_embed_shortens_the_longest_fields_to_the_total_limit():
    embed = discord.Embed(title="t", description="d" * 5000)
    for n in range(7):
        embed.add_field(name=f"f{n}", value=str(n) * (1000 if n else 300))
    fitted = fit_embed(embed)
    assert_within_limits(fitted)
    assert len(fitted.fields) == 7 and fitted.fields[0].value == "0" * 300  # short fields are left alone
    assert len(fitted.description) == 4096 and fitted.description.endswith("\u2026")
    cut = [f for f in fitted.fields if f.value.endswith("\u2026")]
    assert cut and all(len(f.value) >= 80 for f in cut)  # shortened, never emptied
