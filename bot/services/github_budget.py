"""What running against GitHub costs, in words an operator can act on (used by `python -m bot check`).

Figures from GitHub's documentation: 60 requests an hour per IP without a token, 5,000 with one
(https://docs.github.com/en/rest/using-the-rest-api/rate-limits-for-the-rest-api); search 10 a minute
without a token, 30 with one (https://docs.github.com/en/rest/search/search#rate-limit); a 304
answer is free only for an authenticated request (https://docs.github.com/en/rest/using-the-rest-api/
best-practices-for-using-the-rest-api#use-conditional-requests-if-appropriate).
"""

from __future__ import annotations

import math

from bot.config import Settings

ANONYMOUS_PER_HOUR = 60
# Requests one suggestion refresh makes at the least (the org's repository list and one search
# page) and one tracking pass per tracked transfer (its repository, workflows and README).
REFRESH_MIN_REQUESTS = 2
TRACKING_REQUESTS_PER_TRANSFER = 3


def no_token_cost(settings: Settings) -> str:
    """One line for `check` when GITHUB_TOKEN is missing: what the bot then can't afford."""
    refreshes = math.ceil(60 / settings.contribute.refresh_minutes)
    passes = math.ceil(60 / settings.tracking.interval_minutes)
    refresh = refreshes * REFRESH_MIN_REQUESTS
    per_transfer = passes * TRACKING_REQUESTS_PER_TRANSFER
    return (
        "GITHUB_TOKEN is not set: GitHub then allows this machine's IP 60 requests an hour and 10 searches "
        "a minute, and unchanged answers (304) count too. The suggestion refresh alone needs at least "
        f"{refresh} requests an hour and each tracked transfer about {per_transfer} more, so expect pauses "
        "and late checklists. Any token (no scopes needed) gives 5,000 an hour with free 304s."
    )
