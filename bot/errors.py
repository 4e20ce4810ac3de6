"""Domain errors: each carries a message that is safe and friendly to show to a Discord user."""

from __future__ import annotations


class DomainError(Exception):
    """A failure the user can understand and act on. `message` is shown to them as is."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotAllowed(DomainError):
    """The caller lacks the role or ownership an action needs."""


class NotFoundError(DomainError):
    """The thing the user asked about does not exist (or is not theirs)."""


class Conflict(DomainError):
    """The action clashes with the current state (already done, another request exists...)."""


class InvalidInput(DomainError):
    """The user typed something the bot cannot accept; the message says what is expected."""


class ServiceUnavailable(DomainError):
    """An external service (GitHub, PyPI) is down or rate limited; the user should retry later."""
