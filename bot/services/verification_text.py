"""What the verification service says to people, kept apart from its decisions.

Every string here is shown to a Discord user as is: no secrets, no user-typed text except names that
GitHub or PyPI validated (logins, repository names, topics).
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from bot.github import Repo
from bot.pypi import PyPIProject

ECOSYSTEM_URL = "https://palletsprojects.com/ecosystem"
SIGN_IN_AGAIN = "Nothing was marked verified; you can start again with `/eco verify`."

NOT_YOURS = "I can't find that request among yours. Only the person who opened a request can verify it."
NO_OPEN_REQUEST = "You have no open transfer request. Start one with `/eco transfer`."
PICK_ONE = "You have more than one open request: pick one in the `request` option."
DEVICE_NOT_CONFIGURED = (
    "Signing in with GitHub isn't set up on this server. Use the repository topic method instead."
)
DEVICE_REFUSED = (
    "GitHub refused to start the sign-in (the device flow may be disabled for this bot's GitHub app). "
    "Use the repository topic method instead, or tell a maintainer."
)
GITHUB_DOWN = "GitHub isn't answering right now. Nothing was changed: try again in a few minutes."
GITHUB_FAILED_AFTER_SIGN_IN = (
    "You signed in, but GitHub failed while I was reading your account and the repository. "
    + SIGN_IN_AGAIN
)
STILL_WAITING = "Still waiting for you to enter the code on GitHub."
REPLACED = "Replaced by a newer sign-in."
REQUEST_CHANGED = (
    "The request no longer matches this verification (its repository or requester changed). "
    "A proof counts only for the repository it was made for: start again with `/eco verify`."
)
NO_TOPIC_CODE = "Press **Use a repository topic** first to get your one-time topic."
NO_PYPI_PROJECT = "PyPI: no project named on this request, so no PyPI role was checked."
PYPI_UNCHECKED = "PyPI: not checked."
PYPI_DOWN = "PyPI: couldn't be reached just now; the role will be checked again later."

UNEXPECTED_ANSWER = (
    "GitHub answered the sign-in in a way the bot doesn't understand. Use the repository topic method instead, "
    "or tell a maintainer."
)
# Answers that mean the bot's GitHub app is set up wrong: the user can't fix them, a maintainer can.
_SETUP_ERRORS = {
    "device_flow_disabled": (
        "device flow is turned off for this bot's GitHub app (its settings need **Enable Device Flow**)"
    ),
    "incorrect_client_credentials": "GitHub doesn't recognise this bot's app (check `github.oauth_client_id`)",
    "unauthorized_client": "GitHub doesn't allow this bot's app to use the device flow",
    "unsupported_grant_type": "GitHub rejected how the bot asked for the sign-in",
}


def device_start_error(code: str) -> str:
    """Why GitHub wouldn't start a sign-in, from its error code (never "GitHub is down")."""
    reason = _SETUP_ERRORS.get(code, f"GitHub said `{code}`")
    return (
        f"GitHub refused to start the sign-in: {reason}. Use the repository topic method instead, "
        "or tell a maintainer."
    )


def device_refused(status: int | None) -> str:
    return (
        f"GitHub refused the sign-in check (HTTP {status}), which usually means the bot's GitHub app is set up "
        "wrong. " + SIGN_IN_AGAIN + " Tell a maintainer if it happens again."
    )


_DEVICE_ERRORS = {
    "expired_token": "The sign-in code expired before it was approved on GitHub. " + SIGN_IN_AGAIN,
    "access_denied": "The sign-in was cancelled on GitHub. " + SIGN_IN_AGAIN,
    "incorrect_device_code": "GitHub did not recognise this sign-in any more. " + SIGN_IN_AGAIN,
    "device_flow_disabled": (
        "Signing in with GitHub is disabled for this bot's GitHub app. Use the repository topic method "
        "instead, or tell a maintainer."
    ),
    **{
        code: f"GitHub ended the sign-in: {reason}. Use the repository topic method instead, or tell a maintainer."
        for code, reason in _SETUP_ERRORS.items()
        if code != "device_flow_disabled"
    },
}


def device_error(code: str) -> str:
    return _DEVICE_ERRORS.get(code, f"GitHub ended the sign-in ({code}). " + SIGN_IN_AGAIN)


def expired(last_error: str | None) -> str:
    if last_error in ("github_unavailable", "rate_limited"):
        return "GitHub could not be reached before the sign-in code expired. " + SIGN_IN_AGAIN
    return _DEVICE_ERRORS["expired_token"]


def rate_limited(retry_after: float) -> str:
    minutes = max(1, round(retry_after / 60))
    return f"GitHub is rate limiting the bot. Nothing was changed: try again in about {minutes} minute(s)."


def already_verified(repo: str) -> str:
    return f"Your request for `{repo}` is already verified."


def repo_not_visible(repo: str) -> str:
    return (
        f"GitHub can't find `{repo}` (or it is private and can't be seen). Check the repository name on "
        "the request. Nothing was marked verified."
    )


def not_owner(login: str, repo: Repo) -> str:
    if repo.owner_type == "Organization":
        who = f"the **{repo.owner_login}** organisation, and you (**{login}**) are not an admin of the repository"
    else:
        who = f"**{repo.owner_login}**, not you (you signed in as **{login}**)"
    return (
        f"`{repo.full_name}` belongs on GitHub to {who}. Only its owner can transfer it, so the request "
        "stays *not verified* and maintainers will see that.\n"
        "If the extension looks abandoned, there is still a way in: fork it, work on it, then ask to join "
        f"the organisation. See {ECOSYSTEM_URL}"
    )


def not_owner_note(login: str, repo: Repo) -> str:
    return f"Not verified: GitHub user {login} signed in, but {repo.full_name} is owned by {repo.owner_login}."


def verified_note(method: str, login: str, repo: Repo) -> str:
    if method == "github-org-admin":
        return f"GitHub user {login} is an admin of {repo.full_name} (organisation {repo.owner_login})."
    return f"GitHub user {login} owns {repo.full_name}."


def verified_message(method: str, login: str, repo: Repo) -> str:
    how = "an admin of this organisation repository" if method == "github-org-admin" else "its owner"
    return (
        f"Verified: GitHub says **{login}** is {how}, `{repo.full_name}`. Maintainers see this on the review "
        "card. Your GitHub sign-in was used once and discarded."
    )


def nonce_expired(nonce: str) -> str:
    return (
        f"The topic `{nonce}` has expired (codes are valid for 24 hours). Press **Use a repository topic** "
        "again for a new one. Nothing was marked verified."
    )


def topic_missing(nonce: str, repo: Repo) -> str:
    seen = ", ".join(f"`{t}`" for t in repo.topics[:10]) or "none"
    return (
        f"I don't see the topic `{nonce}` on `{repo.full_name}` yet (topics I see: {seen}). Add it exactly as "
        "written (repository page → About → ⚙ → Topics), then press **Check** again."
    )


def topic_verified(nonce: str, repo: Repo) -> str:
    return (
        f"Verified: the topic `{nonce}` is on `{repo.full_name}`, so you have maintain rights on it. "
        "You may remove the topic now."
    )


CLAIM_GONE = (
    "That request was verified, decided or withdrawn meanwhile, so there is nothing to take over. "
    "Run `/eco transfer` to see what you can do now."
)


def took_over(message: str, repo: str, draft_id: int) -> str:
    return (
        f"{message}\n\nThe earlier request for `{repo}`, whose requester had not proven ownership, is withdrawn "
        f"(they are told). Your draft #{draft_id} now names `{repo}`: run `/eco transfer`, press **Edit** to "
        "fill in the rest, then submit it."
    )


def taken_over_notice(repo: str) -> str:
    return (
        f"Your transfer request for `{repo}` was withdrawn: someone proved with GitHub that they own the "
        "repository and took it over. Only the owner can transfer a repository. If you think this is wrong, "
        "ask in #pallets-eco."
    )


def press_cooldown(seconds: int) -> str:
    return f"You pressed that a moment ago: each press asks GitHub or PyPI. Please try again in {seconds} second(s)."


def sign_in_cooldown(seconds: int) -> str:
    return (
        f"You started a GitHub sign-in moments ago: its code is still valid. Please try again in {seconds} "
        "second(s) if you need a new one."
    )


def topic_maintain_verified(nonce: str, repo: Repo) -> str:
    return (
        f"The topic `{nonce}` is on `{repo.full_name}`: that shows **maintain access** to this organisation's "
        "repository, not the admin rights a transfer needs, so a maintainer confirms the approval by hand. "
        "You may remove the topic now."
    )


def pypi_missing(project: str) -> str:
    return f"PyPI: there is no project named `{project}`, so no PyPI role could be checked."


def pypi_quarantined(project: str) -> str:
    return (
        f"⚠️ PyPI has quarantined `{project}` (PEP 792), so its page and roles are hidden. PyPI's admins must "
        "lift the quarantine before the project can be handed over; a maintainer will look at it with you."
    )


def links_to_repo(project: PyPIProject, repo_key: str, web_url: str) -> bool:
    """Whether any of the PyPI project's URLs points at the GitHub repository (case-insensitive)."""
    web = urlsplit(web_url)
    bases = {("github.com", ""), (web.netloc.lower(), web.path.rstrip("/").lower())}
    for raw in [*project.project_urls.values(), project.home_page or ""]:
        parts = urlsplit(raw.strip())
        host = parts.netloc.lower().removeprefix("www.")
        path = parts.path.lower()
        for base_host, base_path in bases:
            if host == base_host and path.startswith(base_path):
                segments = path[len(base_path) :].strip("/").split("/")
                if "/".join(segments[:2]).removesuffix(".git") == repo_key:
                    return True
    return False


def pypi_report(
    project: PyPIProject,
    username: str | None,
    role: str | None,
    links: bool,
    repo: str,
    trusted_owners: tuple[str, ...],
    trusted_organizations: tuple[str, ...] = (),
) -> tuple[bool, str]:
    """(warning, message) about the requester's PyPI role and the project's link to the repository."""
    owners = ", ".join(f"**{o}**" for o in trusted_owners) or "the Pallets owners"
    # PyPI organisation slugs are letters, digits, '.', '_', '-': anything else is dropped before display.
    org = re.sub(r"[^A-Za-z0-9._-]", "", project.organization or "")[:100]
    held = bool(org) and org.lower() in {o.lower() for o in trusted_organizations}
    lines = []
    if held:
        lines.append(
            f"PyPI `{project.name}` is in the PyPI organisation **{org}**, which the Pallets maintainers hold: "
            "nothing to hand over on PyPI."
        )
    elif org and role != "Owner":
        # Roles held through an organisation (its owners, its teams) are not listed by PyPI's API.
        lines.append(
            f"PyPI `{project.name}` belongs to the PyPI organisation **{org}**: roles held through it "
            "(organisation owners, team members) can't be seen through PyPI's API, so the role below may be "
            "incomplete. If that is how you hold the project, tell a maintainer."
        )
    if held and role != "Owner":
        pass  # nothing is asked of the requester on PyPI
    elif not username:
        lines.append(f"PyPI `{project.name}`: no PyPI username given, so the role wasn't checked.")
    elif role == "Owner":
        lines.append(f"PyPI `{project.name}`: **{username}** is an Owner.")
    elif role == "Maintainer":
        lines.append(
            f"⚠️ PyPI `{project.name}`: **{username}** is only a Maintainer. A Maintainer can't add owners: "
            f"an Owner of the project must add {owners} as Owner."
        )
    else:
        listed = ", ".join(f"**{u}**" for u in project.users_with_role("Owner")) or "nobody visible"
        lines.append(
            f"⚠️ PyPI `{project.name}`: **{username}** has no role on the project (Owners: {listed}). "
            f"An Owner must add {owners} as Owner."
        )
    if username:
        lines.append("The PyPI username is self-declared: PyPI roles are public, so this doesn't prove who you are.")
    lines.append(
        f"The PyPI project links to `{repo}`." if links else f"⚠️ The PyPI project does not link to `{repo}`."
    )
    return role != "Owner" and not held, "\n".join(lines)
