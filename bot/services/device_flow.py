"""GitHub's device flow, shared by ownership verification and `/eco join` (which proves only the account).

Each feature keeps its own rows (what it proves differs); what they share lives here: asking GitHub for a
code (refusals, secondary rate limits and unexpected answers turned into the same user-safe messages),
reading one poll answer, and the per-user "Sign in with GitHub" cooldown.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from bot.errors import Conflict, ServiceUnavailable
from bot.github import DeviceCode, DeviceFlowError, GitHubClient
from bot.http import ApiError, NotFound, RateLimited
from bot.services import verification_text as text

log = logging.getLogger(__name__)

SLOW_DOWN_STEP = 5  # seconds GitHub asks us to add on `slow_down`
PENDING, VERIFIED, FAILED, EXPIRED = "pending", "verified", "failed", "expired"


async def request_code(github: GitHubClient, client_id: str) -> DeviceCode:
    """A device code from GitHub, or ServiceUnavailable with a message the user can act on."""
    try:
        code = await github.request_device_code(client_id)
    except RateLimited as exc:
        raise ServiceUnavailable(text.rate_limited(exc.retry_after)) from None
    except DeviceFlowError as exc:
        log.warning("device flow refused by GitHub: %s (HTTP %s)", exc.code, exc.status)
        raise ServiceUnavailable(text.device_start_error(exc.code)) from None
    except NotFound:
        raise ServiceUnavailable(text.DEVICE_REFUSED) from None
    except ApiError as exc:
        if exc.status is not None and 200 <= exc.status < 500:
            raise ServiceUnavailable(text.DEVICE_REFUSED) from None
        raise ServiceUnavailable(text.GITHUB_DOWN) from None
    return _checked(code, github.web_url)


# The answer is outside data shown to the user: the code in markdown, the URI as a link button. GitHub's
# codes are 8 characters with a hyphen (docs.github.com, "Device flow"); the page is {web_url}/login/device.
_USER_CODE = re.compile(r"[A-Z0-9]{4,10}-?[A-Z0-9]{0,10}")
_URI_PATH = re.compile(r"/[A-Za-z0-9._~/-]{1,200}")


def _checked(code: DeviceCode, web: str) -> DeviceCode:
    if not isinstance(code.user_code, str) or not _USER_CODE.fullmatch(code.user_code):
        log.warning("device flow: GitHub's user code has an unexpected form; not shown")
        raise ServiceUnavailable(text.DEVICE_REFUSED)
    uri = code.verification_uri
    if not (isinstance(uri, str) and uri.startswith(web + "/") and _URI_PATH.fullmatch(uri[len(web):])):
        code = replace(code, verification_uri=f"{web}/login/device")
    return code


@dataclass(frozen=True)
class PollStep:
    """What one poll of the token endpoint means: a token, "ask again later", or the end."""

    token: str | None = None
    # Ask again: after `wait` seconds, with `interval` as the new polling interval.
    wait: float | None = None
    interval: int | None = None
    error: str | None = None  # remembered for the expiry message (rate_limited, github_unavailable)
    # Finished without a token.
    state: str | None = None
    code: str | None = None
    message: str | None = None


async def poll(github: GitHubClient, client_id: str, device_code: str, interval: int) -> PollStep:
    try:
        answer = await github.poll_device_token(client_id, device_code)
    except RateLimited as exc:
        return PollStep(wait=max(interval, exc.retry_after), interval=interval, error="rate_limited")
    except ApiError as exc:
        log.warning("device flow: GitHub poll failed (%s)", exc.status)
        if exc.status is not None and 400 <= exc.status < 500:
            # A refusal, not an outage: waiting until the code expires would only hide it.
            return PollStep(state=FAILED, code="github_refused", message=text.device_refused(exc.status))
        return PollStep(wait=interval, interval=interval, error="github_unavailable")
    if answer.access_token:
        return PollStep(token=answer.access_token)
    if answer.error == "authorization_pending":
        return PollStep(wait=interval, interval=interval)
    if answer.error == "slow_down":
        # GitHub may say the new interval itself; never go below ours plus the documented 5 s.
        slower = max(interval + SLOW_DOWN_STEP, answer.interval or 0)
        return PollStep(wait=slower, interval=slower)
    state = EXPIRED if answer.error == "expired_token" else FAILED
    code = answer.error or "unknown_error"
    return PollStep(state=state, code=code, message=text.device_error(code))


def check_cooldown(last: datetime | None, now: datetime, cooldown: float) -> None:
    """Each "Sign in with GitHub" click costs a GitHub call and a row: one per `cooldown` seconds and
    user (`github.sign_in_cooldown_seconds`), counted from stored rows so a restart doesn't reset it."""
    if cooldown <= 0 or last is None:
        return
    if last.tzinfo is None:
        last = last.replace(tzinfo=now.tzinfo)
    wait = (last + timedelta(seconds=cooldown) - now).total_seconds()
    if wait > 0:
        raise Conflict(text.sign_in_cooldown(max(1, int(wait + 0.999))))
