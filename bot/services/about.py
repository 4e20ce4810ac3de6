"""Static facts the bot shows in `/eco about` (the current links: ARCHITECTURE.md#the-pallets-eco-process)."""

from __future__ import annotations

from dataclasses import dataclass

CONTRIBUTING_URL = "https://palletsprojects.com/contributing/"
ECOSYSTEM_URL = "https://palletsprojects.com/ecosystem"
CODE_OF_CONDUCT_URL = "https://palletsprojects.com/code-of-conduct"
GITHUB_TRANSFER_DOCS_URL = (
    "https://docs.github.com/en/repositories/creating-and-managing-repositories/transferring-a-repository"
)


@dataclass(frozen=True)
class AboutInfo:
    title: str
    description: str
    sections: tuple[tuple[str, str], ...]
    links: tuple[tuple[str, str], ...]


def about_text(org: str) -> AboutInfo:
    return AboutInfo(
        title="pallets-eco bot",
        description=(
            f"I help with the **{org}** GitHub organisation, where the community maintains extensions "
            "for Flask, Click, Jinja, Werkzeug and friends together. pallets-eco is not an official "
            "extension repository: nothing in it is guaranteed to be maintained by the Pallets team."
        ),
        sections=(
            (
                "Move your extension into the org",
                "`/eco transfer` starts a request. Only the current owner can transfer a repository; "
                "I check eligibility on GitHub and PyPI, and maintainers review it.",
            ),
            ("Find something to work on", "`/eco contribute` suggests open, unclaimed beginner issues."),
            ("Common questions", "`/eco faq` answers the questions this channel gets most."),
            ("Your requests", "`/eco status` shows where your requests stand."),
        ),
        links=(
            ("Ecosystem and joining", ECOSYSTEM_URL),
            ("Contributing guide", CONTRIBUTING_URL),
            ("Code of conduct", CODE_OF_CONDUCT_URL),
            ("Transferring a repository (GitHub docs)", GITHUB_TRANSFER_DOCS_URL),
        ),
    )
