"""The `[join]` section (issue 16): defaults, the teams table, and one clear line for a wrong value."""

from __future__ import annotations

import pytest

from bot.config import ConfigError, load_settings, parse_settings

BASE = {"discord": {"guild_id": 1, "eco_channel_id": 2, "review_channel_id": 3, "maintainer_role_ids": [4]}}
ENV = {"DISCORD_TOKEN": "x"}


def test_defaults_and_example():
    settings = parse_settings(BASE, ENV)
    assert (settings.join.approvals_required, settings.join.retry_after_days) == (1, 30.0)
    assert settings.join.teams == {}
    example = load_settings("config.example.toml", ENV)
    assert example.join.channels["*"].startswith("the #pallets-eco channel")


def test_teams_map_projects_to_team_slugs():
    settings = parse_settings({**BASE, "join": {"teams": {"flask-foo": "flask-foo-maintainers"}}}, ENV)
    assert settings.join.teams == {"flask-foo": "flask-foo-maintainers"}


@pytest.mark.parametrize(("join", "key"), [
    ({"teams": {"flask-foo": "not a slug!"}}, "join.teams.flask-foo"),
    ({"teams": {"flask-foo": 3}}, "join.teams"),
    ({"teams": ["flask-foo"]}, "join.teams"),
    ({"approvals_required": 0}, "join.approvals_required"),
    ({"retry_after_days": -1}, "join.retry_after_days"),
    ({"about_max_chars": 5000}, "join.about_max_chars"),
])
def test_wrong_values_name_the_key(join, key):
    with pytest.raises(ConfigError) as exc:
        parse_settings({**BASE, "join": join}, ENV)
    assert key in str(exc.value)
