"""Stdlib logging, configured once, with a filter that blanks every known secret."""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterable

_FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"


class SecretFilter(logging.Filter):
    """Replaces known secret values in the final message. Tokens should never be logged in the first
    place; this is the second line of defence (a library echoing a header, an exception's args)."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self._secrets: set[str] = {s for s in secrets if s and len(s) >= 6}

    def add(self, secret: str | None) -> None:
        if secret and len(secret) >= 6:
            self._secrets.add(secret)

    def discard(self, secret: str | None) -> None:
        if secret:
            self._secrets.discard(secret)

    def filter(self, record: logging.LogRecord) -> bool:
        if not self._secrets:
            return True
        message = record.getMessage()
        redacted = message
        for secret in self._secrets:
            if secret in redacted:
                redacted = redacted.replace(secret, "***")
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            text = record.exc_text
            for secret in self._secrets:
                text = text.replace(secret, "***")
            record.exc_text = text
        if redacted != message:
            record.msg, record.args = redacted, None
        return True


def configure_logging(level: str, secrets: Iterable[str] = (), stream=None) -> SecretFilter:
    """Configure the root logger once; returns the secret filter so runtime secrets can be added."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "_eco_bot", False):
            root.removeHandler(handler)
    handler = logging.StreamHandler(stream or sys.stderr)
    handler._eco_bot = True  # type: ignore[attr-defined]
    handler.setFormatter(logging.Formatter(_FORMAT))
    secret_filter = SecretFilter(secrets)
    handler.addFilter(secret_filter)
    root.addHandler(handler)
    root.setLevel(level.upper())
    # discord.py's HTTP debug lines include request bodies; keep them at INFO and above.
    logging.getLogger("discord.http").setLevel(max(logging.INFO, root.level))
    # Alembic narrates every plugin and revision at INFO; one-shot commands should print one line.
    logging.getLogger("alembic").setLevel(max(logging.WARNING, root.level))
    return secret_filter
