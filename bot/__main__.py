"""Command line: `python -m bot [run|check|sync|health|db upgrade|eligibility OWNER/REPO] [--config PATH]`."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from bot.config import ConfigError, Settings, default_config_path, load_settings
from bot.logging_setup import configure_logging

log = logging.getLogger("bot")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bot", description="The pallets-eco Discord bot.")
    parser.add_argument(
        "--config",
        default=None,
        help="path to the TOML config (default: $ECO_BOT_CONFIG or config.toml)",
    )
    sub = parser.add_subparsers(dest="command")
    sub.add_parser("run", help="run the bot (the default)")
    sub.add_parser("check", help="validate the config and report missing ids and permissions")
    sub.add_parser("sync", help="sync the slash-command tree with Discord now")
    health = sub.add_parser("health", help="exit 0 when the running bot's heartbeat is fresh (Docker HEALTHCHECK)")
    health.add_argument(
        "--max-age", type=float, default=None, help="seconds (default: database.heartbeat_max_age_seconds)"
    )
    db = sub.add_parser("db", help="database maintenance")
    db.add_argument("action", choices=["upgrade"], help="upgrade: create/migrate the database and exit")
    elig = sub.add_parser("eligibility", help="print the eligibility report for a GitHub repository")
    elig.add_argument("repository", help="owner/name or a GitHub URL")
    elig.add_argument("--pypi", default=None, help="PyPI project name (default: detected from the repo)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    command = args.command or "run"
    needs_token = command in ("run", "sync")
    try:
        settings = load_settings(args.config or default_config_path(), require_token=needs_token)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)  # noqa: T201 - the one line a person reads
        return 2
    if command in ("run", "check"):
        from bot.services.faq import FaqError, load_faq
        from bot.services.newcomers import SHIPPED_FAQ

        try:
            load_faq(Path(settings.faq.path) if settings.faq.path else SHIPPED_FAQ)
        except FaqError as exc:
            print(f"error: {exc}", file=sys.stderr)  # noqa: T201
            return 2
    secret_filter = configure_logging(settings.logging.level, settings.secrets.all_values())
    try:
        return asyncio.run(_dispatch(command, args, settings, secret_filter))
    except KeyboardInterrupt:
        return 130


async def _dispatch(command: str, args: argparse.Namespace, settings: Settings, secret_filter) -> int:
    if command == "health":
        from bot.health import health  # light: no discord.py or aiohttp import for a check run every minute

        return await health(settings, args.max_age)
    if command == "run":
        from bot.runner import run_bot

        return await run_bot(settings, secret_filter)
    if command == "db":
        from bot.db import migrate
        from bot.db.engine import create_engine

        engine = create_engine(settings.database.url)
        try:
            await migrate.upgrade(engine)
        finally:
            await engine.dispose()
        log.info("database is up to date")
        return 0
    if command == "sync":
        from bot.cli import sync_commands

        return await sync_commands(settings)
    if command == "check":
        from bot.cli import check

        return await check(settings)
    if command == "eligibility":
        from bot.cli import eligibility

        return await eligibility(settings, args.repository, args.pypi)
    raise AssertionError(command)


if __name__ == "__main__":
    sys.exit(main())
