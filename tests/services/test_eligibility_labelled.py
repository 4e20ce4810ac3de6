"""The labelled set of real repositories (tests/data/eligibility_labelled.toml) replayed through the
GitHub and PyPI fakes: accuracy on the tuning part and on the held-out part, reported separately."""

from __future__ import annotations

import tomllib
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bot.config import DiscordSettings, GitHubSettings, PyPISettings, Settings
from bot.github import GitHubClient
from bot.pypi import PyPIClient
from bot.services.eligibility import ADVICE, EligibilityService, Report, render_report_text
from tests.fakes.github import FakeGitHub
from tests.fakes.pypi import FakePyPI

DATA = tomllib.loads((Path(__file__).parent.parent / "data" / "eligibility_labelled.toml").read_text("utf-8"))
ORG = "pallets-eco"
CORE_STUBS = ("pallets/flask", "pallets/werkzeug", "pallets/jinja")


def month(value: str | None) -> datetime | None:
    if not value:
        return None
    return datetime.strptime(value, "%Y-%m").replace(day=15, tzinfo=UTC)


def _files(entry: dict[str, Any]) -> dict[str, str]:
    files = dict(entry.get("files") or {})
    for name in entry.get("root", ()):
        if name.endswith("/"):
            files.setdefault(f"{name}__init__.py", "")
        else:
            files.setdefault(name, "")
    return files


def build(gh: FakeGitHub, pypi: FakePyPI) -> None:
    gh.add_org(ORG)
    gh.add_org("pallets")
    for stub in CORE_STUBS:
        gh.add_repo(stub, files={"pyproject.toml": "[project]\nname = \"x\"\n"})
    repos = {e["full_name"].lower(): e for e in DATA["repo"]}
    moved_into = {e["moved_to"].lower(): e for e in DATA["repo"] if e.get("moved_to")}
    # Repositories outside the org that aren't forks first (org forks may point at them).
    for e in DATA["repo"]:
        if e.get("moved_to") or e.get("fork_of") or e["full_name"].lower().startswith(f"{ORG}/"):
            continue
        if e["full_name"].lower() in {s.lower() for s in CORE_STUBS}:
            continue
        gh.add_repo(e["full_name"], description=e.get("description", ""), files=_files(e),
                    pushed_at=month(e.get("pushed")), archived=e.get("archived", False))
    for o in DATA["org"]:
        full = f"{ORG}/{o['name']}"
        entry = moved_into.get(full.lower()) or repos.get(full.lower()) or {}
        files = _files(entry) if entry else {"pyproject.toml": f"[project]\nname = \"{o['name']}\"\n"}
        if o.get("moved_from"):
            gh.add_repo(o["moved_from"], files=files, archived=o.get("archived", False))
            repo = gh.transfer_repo(o["moved_from"], ORG)
            repo["name"] = o["name"]
        else:
            gh.add_repo(full, files=files, fork_of=o.get("fork_of"), archived=o.get("archived", False))
    for e in DATA["repo"]:
        if e.get("fork_of"):
            gh.add_repo(e["full_name"], description=e.get("description", ""), files=_files(e),
                        pushed_at=month(e.get("pushed")), fork_of=e["fork_of"])
    for e in DATA["repo"]:
        p = e.get("pypi")
        if not p:
            continue
        released = month(p.get("last_release")) or datetime(2024, 1, 1, tzinfo=UTC)
        links = {"Source": f"https://github.com/{e['full_name']}"} if p.get("links") else None
        pypi.add_project(
            p["name"], summary=p.get("summary", ""), description=p.get("description", ""),
            requires_dist=p.get("requires_dist", ()), classifiers=p.get("classifiers", ()),
            project_urls=links, releases={"1.0.0": released},
        )


def predicted(report: Report) -> str:
    failing = {c.key for c in report.checks if c.status == "fail"}
    flagged = {c.key for c in report.checks if c.status != "pass"}
    if "not_in_org" in failing:
        return "in_org"
    if any(k.startswith("core_copy_") for k in failing):
        return "core_copy"
    if any(k.startswith("application_") for k in failing):
        return "application"
    if any(k.startswith("superseded_") for k in flagged):
        return "superseded"
    if "not_core" in failing:
        return "core"
    return report.kind or "unknown"


@pytest.fixture
async def service():
    async with FakeGitHub() as gh, FakePyPI() as pypi, aiohttp.ClientSession() as http:
        build(gh, pypi)
        settings = Settings(
            discord=DiscordSettings(guild_id=1, eco_channel_id=2, review_channel_id=3, maintainer_role_ids=(4,)),
            github=GitHubSettings(api_url=gh.api_url, web_url=gh.web_url),
            pypi=PyPISettings(url=pypi.url),
        )
        github = GitHubClient(http, api_url=gh.api_url, web_url=gh.web_url, token=gh.bot_token, timeout=5,
                              retries=1, retry_base_delay=0.01)
        py = PyPIClient(http, url=pypi.url, timeout=5, retries=1, retry_base_delay=0.01)
        svc = EligibilityService(github, py, settings)
        now = datetime.strptime(DATA["now"], "%Y-%m-%d").replace(tzinfo=UTC)
        svc._classes._now = lambda: now  # the recorded facts are dated: judge them on the day they were read
        yield gh, svc


async def _judge(svc: EligibilityService, entry: dict[str, Any]) -> tuple[bool, str]:
    owner, name = entry["full_name"].split("/")
    report = await svc.evaluate(owner, name)
    got = predicted(report)
    ok = got == entry["label"] and report.verdict == entry["verdict"]
    if ok and entry.get("advice"):
        ok = report.advice == ADVICE[entry["advice"]]
    line = f"{'ok  ' if ok else 'MISS'} {entry['full_name']}: want {entry['label']}/{entry['verdict']}, " \
           f"got {got}/{report.verdict}"
    return ok, line if ok else line + "\n" + render_report_text(report)


def test_the_labelled_set_is_large_enough_and_split():
    repos = DATA["repo"]
    held = [e for e in repos if e["split"] == "held_out"]
    assert len(repos) >= 40 and len(held) >= 12
    for label in ("superseded", "core_copy", "application"):
        assert sum(e["label"] == label for e in repos) >= 3, label
    assert all(e.get("source") for e in repos), "every case says where its facts come from"


async def test_accuracy_on_the_tuning_and_held_out_parts(service, capsys):
    gh, svc = service
    figures, lines = {}, []
    for split in ("tune", "held_out"):
        entries = [e for e in DATA["repo"] if e["split"] == split]
        results = [await _judge(svc, e) for e in entries]
        lines.extend(line for _, line in results)
        figures[split] = (sum(ok for ok, _ in results), len(entries))
    summary = ", ".join(f"{s}: {ok}/{n} = {ok / n:.0%}" for s, (ok, n) in figures.items())
    with capsys.disabled():
        print(f"\neligibility labelled set: {summary}")
    detail = summary + "\n" + "\n".join(lines)
    tune_ok, tune_n = figures["tune"]
    held_ok, held_n = figures["held_out"]
    print("\n".join(line for line in lines if line.startswith("MISS")))
    assert tune_ok / tune_n >= 0.95, detail
    assert held_ok / held_n >= 0.8, detail
    # The org listing is read once and then reused for every report (no GET per report).
    assert gh.count("GET", rf"/orgs/{ORG}/repos") == 1
