"""The config loader: the example validates, and every mistake gives one clear line naming the key."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from bot.config import ConfigError, load_settings, parse_settings

ROOT = Path(__file__).resolve().parents[1]
ENV = {"DISCORD_TOKEN": "tok-discord-123456"}
MINIMAL = {
    "discord": {
        "guild_id": 1,
        "eco_channel_id": 2,
        "review_channel_id": 3,
        "maintainer_role_ids": [4],
    }
}


def test_example_config_validates_with_documented_defaults():
    settings = load_settings(ROOT / "config.example.toml", ENV)
    assert settings.github.org == "pallets-eco"
    assert settings.github.api_url == "https://api.github.com"
    assert settings.pypi.trusted_owners == ("davidism",)
    assert settings.database.url == "sqlite+aiosqlite:///data/eco-bot.db"
    assert settings.discord.announce_channel == settings.discord.eco_channel_id
    assert settings.discord.message_content is False


def test_minimal_config_gets_defaults_and_secrets_come_from_env():
    env = {**ENV, "GITHUB_TOKEN": "ghp_secretsecret", "GITHUB_ORG_ADMIN_TOKEN": "ghp_admin123456"}
    settings = parse_settings(MINIMAL, env)
    assert settings.review.approvals_required == 1
    assert settings.contribute.max_age_days == 730
    assert settings.secrets.github_token == "ghp_secretsecret"
    assert "ghp_secretsecret" not in repr(settings)
    assert "tok-discord" not in repr(settings)


@pytest.mark.parametrize(
    ("raw", "env", "message"),
    [
        (MINIMAL, {}, "DISCORD_TOKEN is not set"),
        ({}, ENV, "missing section `[discord]`"),
        ({"discord": {**MINIMAL["discord"], "colour": 1}}, ENV, "unknown key `discord.colour`"),
        ({**MINIMAL, "githb": {}}, ENV, "unknown section `[githb]`"),
        ({"discord": {**MINIMAL["discord"], "guild_id": "123"}}, ENV, "`discord.guild_id` must be an integer"),
        (
            {"discord": {**MINIMAL["discord"], "maintainer_role_ids": 4}},
            ENV,
            "`discord.maintainer_role_ids` must be a list",
        ),
        ({"discord": {k: v for k, v in MINIMAL["discord"].items() if k != "review_channel_id"}}, ENV,
         "missing key `discord.review_channel_id`"),
        ({**MINIMAL, "github": {"token": "x"}}, ENV, "is a secret; set it in the environment"),
        ({**MINIMAL, "github": {"api_url": "ftp://example"}}, ENV, "`github.api_url` must be an absolute"),
        ({**MINIMAL, "review": {"approvals_required": 0}}, ENV, "approvals_required"),
        ({**MINIMAL, "discord": {**MINIMAL["discord"], "message_content": "yes"}}, ENV, "true or false"),
    ],
)
def test_config_errors_name_the_problem(raw, env, message):
    with pytest.raises(ConfigError) as info:
        parse_settings(raw, env)
    assert message in str(info.value)
    assert "\n" not in str(info.value)


def test_missing_and_malformed_files(tmp_path):
    with pytest.raises(ConfigError, match="file not found"):
        load_settings(tmp_path / "nope.toml", ENV)
    bad = tmp_path / "bad.toml"
    bad.write_text("[discord\nguild_id = 1")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_settings(bad, ENV)


def _run_cli(*args, env_extra=None, cwd=None):
    env = {"PATH": "/usr/bin:/bin", "HOME": str(cwd or ROOT)}
    env.update(env_extra or {})
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        cwd=cwd or ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_cli_without_token_exits_with_one_clear_line(tmp_path):
    result = _run_cli("--config", str(ROOT / "config.example.toml"), cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip() == "error: DISCORD_TOKEN is not set: export the bot token in the environment"
    assert "Traceback" not in result.stderr + result.stdout


def test_cli_unknown_key_and_missing_file(tmp_path):
    cfg = tmp_path / "c.toml"
    cfg.write_text((ROOT / "config.example.toml").read_text() + "\n[pypi2]\nx = 1\n")
    result = _run_cli("--config", str(cfg), env_extra=ENV, cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip() == "error: config: unknown section `[pypi2]`"
    result = _run_cli(env_extra={**ENV, "ECO_BOT_CONFIG": str(tmp_path / "missing.toml")}, cwd=tmp_path)
    assert result.returncode == 2
    assert "file not found" in result.stderr and "Traceback" not in result.stderr


def test_db_upgrade_command_creates_folder_and_database(tmp_path):
    cfg = tmp_path / "c.toml"
    text = (ROOT / "config.example.toml").read_text().replace(
        "sqlite+aiosqlite:///data/eco-bot.db", f"sqlite+aiosqlite:///{tmp_path}/nested/dir/eco.db"
    )
    cfg.write_text(text)
    result = _run_cli("--config", str(cfg), "db", "upgrade", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "nested/dir/eco.db").exists()
