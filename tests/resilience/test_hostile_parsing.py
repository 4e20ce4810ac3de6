"""Hostile package files, PyPI answers and names from repositories (issue 12, items 1-3).

Anyone with a public repository controls the files the bot parses and the PyPI metadata it reads.
A crafted corpus (nested TOML, repeated openers, unterminated strings, binary junk, 1 MB files, odd
encodings, URL tricks) must each be read within a small budget or reported as "could not read";
the event loop keeps serving other users meanwhile; one poisoned request never stops another's
retry; a request without a verdict needs the confirm step; and a name found in a repository's files
can't put markdown or a masked link on the review card.
"""

# Fixtures come from the service tests; importing them makes ruff see the parameters as redefinitions.
# ruff: noqa: F811

from __future__ import annotations

import asyncio
import contextlib
import random
import re
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import pytest
from sqlalchemy import select

from bot.db.models.transfers import TransferRequest
from bot.services import package_files
from bot.services.eligibility import NEEDS_DECISION, Report, render_report_text
from bot.services.package_files import parse_file, parse_files
from bot.services.transfers import retry_delay
from tests.resilience._support import (
    APPROVE,
    card_of,
    custom_id,
    request_row,
    setup_transfer_world,
    submit,
    to_ready,
    wait_card,
    wait_state,
)
from tests.services.test_eligibility import EXT_PYPROJECT, world  # noqa: F401 - the fixture, used below
from tests.services.test_review import clock, db, fake_github, fake_pypi, http  # noqa: F401 - fixtures
from tests.services.test_transfers import ALICE, BOB, env, form  # noqa: F401 - `env` is a fixture

INJECTION = "x) **Verified owner: davidism** [Approve here](https://evil.example/phish"
BUDGET = 2.5  # seconds per file, worker start included: under PARSE_TIMEOUT, so nothing needed the kill
KIB = 1024


def _junk(n: int, seed: int) -> str:
    """Random bytes as the GitHub client hands them over (decoded as UTF-8 with replacement)."""
    return random.Random(seed).randbytes(n).decode("utf-8", "replace")


def _utf16(text: str) -> str:
    return text.encode("utf-16").decode("utf-8", "replace")


OPENERS = "install_requires=[" * (120 * KIB // 18)  # 1.8 s at 100 KB with the old regex, on the loop
# (label, file, text, expected): expected is "error", "ok", or a substring of the error.
CORPUS: list[tuple[str, str, str, str]] = [
    ("nested arrays x500", "pyproject.toml",
     '[project]\nname = "flask-x"\ndependencies = ' + "[" * 500 + "]" * 500 + "\n", "nested too deeply"),
    ("nested inline tables x500", "pyproject.toml", "a = " + "{b = " * 500 + "1" + "}" * 500, "nested too deeply"),
    ("100k unterminated arrays", "pyproject.toml", "a = " + "[" * 100_000, "nested too deeply"),
    ("dotted key of 60k parts", "pyproject.toml", "a" + ".a" * 60_000 + " = 1", "dotted parts"),
    ("300 keys of 200 parts", "pyproject.toml",
     "".join(f"b{i}" + ".a" * 199 + " = 1\n" for i in range(300)), "ok"),
    ("unterminated string", "pyproject.toml", '[project]\nname = "' + "x" * 120 * KIB, "not valid TOML"),
    ("unterminated multi-line string", "pyproject.toml", 'a = """' + '""' * 60 * KIB, "not valid TOML"),
    ("array of 60k items", "pyproject.toml", "a = [" + "1," * (60 * KIB) + "]", "ok"),
    ("12k tables", "pyproject.toml", "".join(f"[t{i}]\n" for i in range(12_000)), "ok"),
    ("1 MB pyproject", "pyproject.toml", '[project]\nname = "big"\n' + "# pad\n" * 180_000, "larger than"),
    ("UTF-8 BOM", "pyproject.toml", '\ufeff[project]\nname = "flask-bom"\ndependencies = ["flask"]\n', "ok"),
    ("UTF-16", "pyproject.toml", _utf16('[project]\nname = "flask-utf16"\n'), "not UTF-8"),
    ("binary junk", "pyproject.toml", _junk(64 * KIB, 1), "error"),
    ("setup.py: repeated openers", "setup.py", OPENERS, "ok"),
    ("setup.py: 1 MB of openers", "setup.py", "install_requires=[" * (1024 * KIB // 18), "larger than"),
    ("setup.py: unterminated name", "setup.py", 'setup(name="' + "x" * 120 * KIB, "ok"),
    ("setup.py: quotes", "setup.py", "install_requires=[" + '"a' * 60 * KIB + "]", "ok"),
    ("setup.py: openers with quotes", "setup.py", 'install_requires = [ "a' * (5 * KIB), "ok"),
    ("setup.py: binary junk", "setup.py", _junk(120 * KIB, 2), "error"),
    ("setup.py: latin-1", "setup.py", "setup(name='caf\xe9')".encode("latin-1").decode("utf-8", "replace"), "ok"),
    ("setup.cfg: 12k sections", "setup.cfg", "".join(f"[s{i}]\n" for i in range(12_000)) + "[s1]\n", "error"),
    ("setup.cfg: long continuation", "setup.cfg", "[metadata]\nname = x\n" + " a\n" * (40 * KIB), "ok"),
    ("setup.cfg: 120k line", "setup.cfg", "[metadata]\nname " + " " * 120 * KIB, "not a valid setup.cfg"),
    ("setup.cfg: blank lines", "setup.cfg", "[m]\nk=1\n" + "\n" * 120 * KIB, "ok"),
    ("setup.cfg: UTF-16", "setup.cfg", _utf16("[metadata]\nname = x\n"), "not UTF-8"),
    ("setup.cfg: binary junk", "setup.cfg", _junk(64 * KIB, 3), "error"),
    ("name injection (TOML)", "pyproject.toml", f'[project]\nname = "{INJECTION}"\n', "ok"),
    ("name injection (cfg)", "setup.cfg", f"[metadata]\nname = {INJECTION}\n", "ok"),
    ("name injection (setup.py)", "setup.py", f"setup(name='{INJECTION}')", "ok"),
    ("name of 5,000 characters", "pyproject.toml", '[project]\nname = "flask-' + "a" * 5000 + '"\n', "ok"),
]


@pytest.mark.parametrize("label,filename,text,expected", CORPUS, ids=[c[0] for c in CORPUS])
def test_corpus_entry_is_read_or_refused_in_this_process_within_the_budget(label, filename, text, expected):
    started = time.perf_counter()
    try:
        facts, error = parse_file(filename, text), None
    except package_files.Unreadable as exc:
        facts, error = None, str(exc)
    elapsed = time.perf_counter() - started
    assert elapsed < BUDGET, f"{label}: {elapsed:.2f} s"
    if expected == "ok":
        assert facts is not None, f"{label}: {error}"
    elif expected == "error":
        assert error, label
    else:
        assert error and expected in error, (label, error)
    if facts is not None and facts.name is not None:
        assert package_files.valid_project_name(facts.name) == facts.name  # only PEP 508 names come out


async def test_the_whole_corpus_through_the_worker_within_the_budget(capsys):
    """End to end through the parser process: every file gets a result or a reason, none needs the
    kill, and the worst time is printed (the figure in the README)."""
    times: dict[str, float] = {}
    for label, filename, text, expected in CORPUS:
        started = time.perf_counter()
        [result] = await parse_files([(filename, text)])
        times[label] = time.perf_counter() - started
        assert (result.facts is None) == (expected not in ("ok",)), (label, result)
        if expected not in ("ok", "error"):
            assert expected in (result.error or ""), (label, result.error)
    worst = max(times, key=times.__getitem__)
    with capsys.disabled():
        print(f"\nworst parse time through the worker: {times[worst] * 1000:.0f} ms ({worst}); "
              f"median {sorted(times.values())[len(times) // 2] * 1000:.0f} ms over {len(times)} files")
    assert times[worst] < BUDGET, times
    # The BOM is dropped, the injected and overlong names are not names.
    texts = {label: text for label, _, text, _ in CORPUS}
    [bom], [inj], [long] = [await parse_files([("pyproject.toml", texts[label])])
                            for label in ("UTF-8 BOM", "name injection (TOML)", "name of 5,000 characters")]
    assert bom.facts.name == "flask-bom" and bom.facts.deps == ["flask"]
    assert inj.facts.name is None and inj.facts.invalid_name
    assert long.facts.name is None and long.facts.invalid_name


async def test_a_file_that_outlasts_the_time_limit_is_killed_and_reported():
    # A smaller limit than PARSE_TIMEOUT stands in for a slow input: the worker is killed, the rest reported.
    started = time.perf_counter()
    [slow] = await parse_files([("pyproject.toml", "a = [" + "1," * (60 * KIB) + "]")], timeout=0.05)
    assert slow.facts is None and "took longer than" in slow.error
    assert time.perf_counter() - started < 1.0


# ------------------------------------------------------------------ the eligibility report


def _check(report: Report, key: str):
    found = [c for c in report.checks if c.key == key]
    assert found, f"no {key} check in {render_report_text(report)}"
    return found[0]


async def test_unreadable_package_files_become_a_check_never_an_exception(world):
    gh, pypi, svc = world
    gh.add_repo("alice/flask-poison", license="MIT", files={
        "pyproject.toml": CORPUS[0][2],  # 500 nested arrays: RecursionError in tomllib
        "setup.cfg": _utf16("[metadata]\nname = x\n"),
        "setup.py": OPENERS,
    })
    started = time.perf_counter()
    report = await svc.evaluate("alice", "flask-poison", github_username="alice")
    assert time.perf_counter() - started < BUDGET + 1
    files = _check(report, "package_files")
    assert files.status == "warn" and files.decision and report.verdict == NEEDS_DECISION
    assert "pyproject.toml: it is nested too deeply" in files.reason
    assert "setup.cfg: it is not UTF-8 text" in files.reason

    # GitHub's answer for a file over the body cap: that file can't be read, the rest of the report stands.
    gh.add_repo("alice/flask-huge", license="MIT", files={"setup.py": "x", "pyproject.toml": EXT_PYPROJECT})
    huge = '{"content": "' + "A" * (9 * 1024 * KIB) + '"}'
    gh.fail("GET", r"flask-huge/contents/setup.py$", 200, times=10, body=huge)
    report = await svc.evaluate("alice", "flask-huge", github_username="alice")
    assert "setup.py: GitHub's answer for it is too large to read" in _check(report, "package_files").reason
    assert report.kind == "extension" and report.pypi_project == "Flask-Foo"  # pyproject.toml was read
    assert gh.count("GET", r"flask-huge/contents/setup.py$") == 1

    gh.add_repo("alice/flask-named", license="MIT", files={"setup.py": f"setup(name='{INJECTION}')"})
    report = await svc.evaluate("alice", "flask-named", github_username="alice")
    assert report.pypi_project is None  # never stored, never looked up on PyPI
    assert "not a valid PyPI project name" in _check(report, "package_files").reason
    assert INJECTION not in report.to_json()
    assert not any("evil.example" in r.path for r in pypi.requests)


async def test_pypi_url_tricks_oversized_and_garbled_answers_are_checks(world):
    gh, pypi, svc = world
    pypi.add_project("flask-urls", requires_dist=["flask", 7, None], classifiers=["Framework :: Flask", 3],
                     license_expression="MIT" + " " * 20_000 + "x",
                     project_urls={"Bad port": "https://github.com:99999/alice/flask-foo",
                                   "Stray bracket": "http://[github.com/alice/flask-foo", "Not text": 5,
                                   "Other host": "https://github.com.evil.example/alice/flask-foo",
                                   "Markdown": "https://github.com/x)[a](https:/evil.example/y"})
    gh.add_repo("alice/flask-urls", license=None, files={"pyproject.toml": '[project]\nname = "flask-urls"\n'})
    started = time.perf_counter()
    report = await svc.evaluate("alice", "flask-urls", pypi_project="flask-urls", github_username="alice")
    assert time.perf_counter() - started < 2.0
    assert _check(report, "pypi_links").status == "warn"  # no readable link back, and no exception
    assert "evil" not in render_report_text(report)
    assert "too long to read" in _check(report, "license").reason

    # Over the body cap: reported as too large (not "did not answer in time"), and not postponed.
    pypi.add_project("flask-huge")
    pypi.fail("GET", r"/pypi/flask-huge/json$", 200, times=10,
              body='{"info": {"name": "' + "x" * (3 * 1024 * KIB) + '"}}')
    report = await svc.evaluate("alice", "flask-foo", pypi_project="flask-huge", github_username="alice")
    readable = _check(report, "pypi_readable")
    assert "too large" in readable.reason and readable.decision and report.verdict == NEEDS_DECISION
    assert pypi.count("GET", r"/pypi/flask-huge/json$") == 1  # the same answer again would not help

    # Shapes the client can't take in (roles that are not objects): one check, not an exception.
    pypi.add_project("flask-garbled")
    pypi.fail("GET", r"/pypi/flask-garbled/json$", 200, times=10,
              body='{"info": {"name": "flask-garbled"}, "ownership": {"roles": ["Owner"]}}')
    report = await svc.evaluate("alice", "flask-foo", pypi_project="flask-garbled", github_username="alice")
    assert "could not be read" in _check(report, "pypi_readable").reason


# ------------------------------------------------------------------ failure isolation


async def test_one_poisoned_request_does_not_stop_another_requests_retry(env):
    service, gh, pypi, clock, db = env
    gh.add_repo("alice/flask-poison", license="MIT", files={"pyproject.toml": CORPUS[0][2]})
    pypi.add_project("flask-garbled")
    gh.down = True  # both submitted while GitHub is down: both wait for the retry pass
    poisoned = await _submitted(service, ALICE, "https://github.com/alice/flask-poison", "")
    garbled = await _submitted(service, BOB, "https://github.com/alice/cronlike", "flask-garbled")
    healthy = await _submitted(service, 333, "https://github.com/alice/flask-foo", "Flask-Foo")
    for rid in (poisoned, garbled, healthy):
        assert (await service.run_checks(rid)).error
    gh.down = False
    pypi.fail("GET", r"/pypi/flask-garbled/json$", 200, times=100,
              body='{"info": {"name": "flask-garbled"}, "ownership": {"roles": ["Owner"]}}')
    clock.advance(minutes=6)
    assert await service.retry_pending_checks() == [poisoned, garbled, healthy]
    for rid in (poisoned, garbled):
        assert (await service.get(rid)).verdict == NEEDS_DECISION

    # A request whose checks keep failing backs off on its own and never blocks the ones after it.
    gh.fail("GET", r"/repos/alice/flask-mail$", 500, times=10_000)
    gh.add_repo("alice/flask-mail", license="MIT")
    failing = await _submitted(service, 444, "https://github.com/alice/flask-mail", "")
    later = await _submitted(service, 555, "https://github.com/alice/click-colors", "")
    gh.down = True
    assert (await service.run_checks(later)).error
    gh.down = False
    assert (await service.run_checks(failing)).error
    clock.advance(minutes=6)
    assert await service.retry_pending_checks() == [later]  # the failing one, tried first, doesn't stop it
    waits = []
    for _ in range(4):
        async with db() as s:
            row = await s.get(TransferRequest, failing, populate_existing=True)
        waits.append(retry_delay(row.check_failures))
        clock.advance(seconds=waits[-1].total_seconds() - 1)
        assert failing not in await service.pending_check_ids()  # not yet due
        clock.advance(seconds=2)
        assert failing in await service.pending_check_ids()
        assert await service.retry_pending_checks() == []
    assert waits == [timedelta(minutes=5), timedelta(minutes=10), timedelta(minutes=20), timedelta(minutes=40)]


async def _submitted(service, user: int, repo: str, pypi_project: str) -> int:
    draft = await service.save_form(user, 9, form(repo, pypi_project=pypi_project, github_username="alice"))
    await service.accept_terms(draft.id, user)
    return (await service.submit(draft.id, user)).request.id


async def test_a_request_without_a_verdict_needs_the_confirm_step(harness):
    h = harness
    setup_transfer_world(h)
    h.github.down = True
    msg = await to_ready(h)
    _, report = await submit(h, msg, timeout=20)
    assert "Checks postponed" in report.text()
    [row] = await request_row(h)
    assert row.verdict is None and row.report_error
    await wait_state(h, row.id, "under_review")
    done = await h.slash(h.MAINTAINER, "eco verify-manual", request=row.id, reason="Checked on a call")
    assert "Verified" in (await done.wait_message()).text()
    card = await wait_card(h, row.id, "NO ELIGIBILITY VERDICT")
    await h.discord.react(h.MAINTAINER, card, APPROVE)
    await h.discord.wait_for_message(
        h.review_channel_id,
        lambda m: m.id == card.id and (f"eco:review:confirm:{row.id}", "Confirm approval", False) in m.buttons(),
    )
    [row] = await request_row(h)
    assert row.state == "under_review"  # one ✅ did not approve it


# ------------------------------------------------------------------ the event loop stays free


@contextlib.asynccontextmanager
async def loop_lag_probe(interval: float = 0.01) -> AsyncIterator[list[float]]:
    """How late a 10 ms sleep wakes up, over and over: the longest the loop was blocked."""
    lags: list[float] = []
    loop = asyncio.get_running_loop()

    async def probe() -> None:
        while True:
            started = loop.time()
            await asyncio.sleep(interval)
            lags.append(loop.time() - started - interval)

    task = asyncio.create_task(probe())
    try:
        yield lags
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def test_event_loop_keeps_serving_while_a_hostile_request_is_checked(harness, capsys):
    h = harness
    setup_transfer_world(h)
    h.github.add_repo("alice/flask-evil", license="MIT", files={
        "pyproject.toml": CORPUS[0][2],  # 500 nested arrays: RecursionError in tomllib
        "setup.py": OPENERS,  # quadratic with the old regex: seconds on the event loop
        "setup.cfg": "".join(f"[s{i}]\n" for i in range(12_000)),
    })
    msg = await to_ready(h, repository="https://github.com/alice/flask-evil", pypi_project="")
    acks: list[float] = []
    async with loop_lag_probe() as lags:
        checking = asyncio.create_task(submit(h, msg, timeout=30))
        while not checking.done():
            started = time.perf_counter()
            about = await h.slash(h.USER2, "eco about")
            await about.wait_message(timeout=10)
            acks.append(time.perf_counter() - started)
            await asyncio.sleep(0.1)
        _, report = await checking
    with capsys.disabled():
        print(f"\nloop lag while checking: max {max(lags) * 1000:.0f} ms over {len(lags)} probes; "
              f"/eco about answered in at most {max(acks) * 1000:.0f} ms ({len(acks)} calls)")
    assert "Eligibility" in report.text()
    [row] = await request_row(h)
    assert row.verdict is not None and row.report_json
    assert max(acks) < 1.0, acks  # well within Discord's 3 seconds
    assert max(lags) < 0.1, f"event loop blocked for {max(lags) * 1000:.0f} ms"


# ------------------------------------------------------------------ nothing external rendered raw

# Hosts the bot itself links to; anything else in a masked link came from outside.
_MASKED = re.compile(r"(?<!\\)\[([^\]\n]*)\]\(\s*<?([^)\s>]+)")


def _masked_link_hosts(text: str) -> set[str]:
    return {(urlsplit(url).hostname or url) for _, url in _MASKED.findall(text)}


async def test_names_from_repository_files_cannot_inject_markdown_or_links(harness):
    h = harness
    setup_transfer_world(h)
    allowed = {"pypi.org", "palletsprojects.com", "docs.github.com", urlsplit(h.github.web_url).hostname}
    long_valid = "flask-" + "a" * 194  # 200 characters: the longest name the bot keeps
    cases = {
        "alice/flask-inject-toml": {"pyproject.toml": f'[project]\nname = "{INJECTION}"\ndependencies = ["flask"]\n'},
        "alice/flask-inject-cfg": {"setup.cfg": f"[metadata]\nname = {INJECTION}\n"},
        "alice/flask-inject-py": {"setup.py": f"setup(name='{INJECTION}', install_requires=['flask'])"},
        "alice/flask-long": {"pyproject.toml": '[project]\nname = "flask-' + "a" * 5000 + '"\n'},
        "alice/flask-long-valid": {"pyproject.toml": f'[project]\nname = "{long_valid}"\n'},
    }
    transfers = h.bot.get_cog("Transfers").service
    for repo, files in cases.items():
        h.github.add_repo(repo, license="MIT", files=files)
        msg = await to_ready(h, repository=f"https://github.com/{repo}", pypi_project="")
        rid = int(custom_id(msg, "submit").rsplit(":", 1)[1])
        await submit(h, msg, timeout=20)
        card = await card_of(h, rid)  # posted: Discord did not refuse it
        async with h.db() as s:
            row = await s.scalar(select(TransferRequest).where(TransferRequest.id == rid))
        if repo == "alice/flask-long-valid":
            assert row.pypi_project == long_valid and "pypi.org/project/" + long_valid in card.text()
        else:
            assert row.pypi_project is None, row.pypi_project  # an invalid name is never stored
            assert "not a valid PyPI project name" in card.text()
        await transfers.withdraw(rid, h.USER)
    for message in h.discord.messages.values():
        if message.author_id != h.discord.bot_user.id:
            continue
        text = message.text()
        assert _masked_link_hosts(text) <= allowed, (_masked_link_hosts(text), text)
        assert "**Verified owner" not in text, text  # escaped: no bold line the attacker wrote
        assert "evil.example" not in text or "\\[Approve here" in text, text
        for embed in message.embeds:
            assert len(embed.get("description") or "") <= 4096
            assert all(len(f.get("value") or "") <= 1024 for f in embed.get("fields", []))


async def test_one_unreadable_pypi_answer_does_not_stop_tracking_the_others(db, clock, fake_github, fake_pypi,
                                                                            http):
    from tests.services.test_tracking import approved_request, tracker

    garbled_repo = fake_github.add_repo("alice/flask-garbled", admins=["alice"])
    thing = fake_github.add_repo("alice/flask-thing", admins=["alice"])
    fake_pypi.add_project("flask-garbled", roles=[("Owner", "alice")])
    fake_pypi.add_project("flask-thing", roles=[("Owner", "alice")])
    fake_pypi.fail("GET", r"/pypi/flask-garbled/json$", 200, times=100,
                   body='{"info": {"name": "flask-garbled"}, "ownership": {"roles": ["Owner"]}}')
    garbled = await approved_request(db, clock, garbled_repo["id"], repo="alice/flask-garbled", pypi="flask-garbled")
    healthy = await approved_request(db, clock, thing["id"], requester=4242)
    result = await tracker(db, clock, fake_github, fake_pypi, http).run_pass()
    assert garbled in result.errors and healthy not in result.errors
    assert result.checked == 1  # the request after the garbled one was still tracked


async def test_url_tricks_in_the_pypi_field_get_a_clear_answer(harness):
    h = harness
    setup_transfer_world(h)
    from tests.resilience._support import fill, open_form

    for typed in ("https://[pypi.org/project/flask-foo", "pypi.org[/project/flask-foo",
                  "https://pypi.org:99999/project/flask-foo", "https://pypi.org:x/project/flask-foo"):
        _, answer = await fill(h, h.USER, await open_form(h, h.USER), pypi_project=typed)
        assert "something went wrong" not in answer.text(), (typed, answer.text())
        assert "Give the PyPI project as its name" in answer.text(), (typed, answer.text())
    assert await request_row(h) == []  # nothing saved from a link the bot could not read


HOSTILE_TEXTS = ["[a](b" * 800, INJECTION + ")", "[https://github.com/pallets](https://evil.example)",
                 "# Heading", "  -# subtext", "> quote", "1. item", "10) item", "- list", "@everyone",
                 "<@123456789012345678>", "`code`", "||spoiler||", "\\[x](https://evil.example)",
                 "*" * 4000, "a\n" * 2000 + "[x](https://evil.example)"]


@pytest.mark.parametrize("text", HOSTILE_TEXTS, ids=range(len(HOSTILE_TEXTS)))
def test_escaping_is_linear_and_leaves_no_link_heading_quote_or_ping(text):
    from cogs.review_render import safe
    from cogs.transfers_render import esc

    for render in (safe, esc):
        started = time.perf_counter()
        out = render(text, 4000)
        assert time.perf_counter() - started < 0.05, "escaping must not backtrack over the text"
        assert len(out) <= 4000
        assert not _masked_link_hosts(out), out[:200]
        for line in out.split("\n"):
            body = line.lstrip(" \t")
            assert not re.match(r"(#|>|-|\+|[0-9]+[.)])", body), line  # no heading, quote or list
        assert "@everyone" not in out and "<@1" not in out


def test_a_stored_name_that_is_not_valid_gets_no_link_and_the_card_still_fits():
    from bot.services.review import CardData, Tally
    from cogs.review_render import render_card
    from tests.services.test_review import make_settings

    now = datetime.now(UTC)
    for name in (INJECTION, "flask-" + "a" * 194, "x" * 5000):
        request = TransferRequest(id=7, guild_id=1, requester_id=2, state="under_review", repo_owner="alice",
                                  repo_name="flask-foo", repo_key="alice/flask-foo", pypi_project=name,
                                  reason="[a](b" * 800, submitted_at=now, created_at=now, updated_at=now)
        card = render_card(CardData(request, Tally(), 1, None), make_settings())
        text = "\n".join([card.description or "", *(f.value for f in card.fields)])
        assert _masked_link_hosts(text) <= {"pypi.org", "127.0.0.1"}, text
        assert len(card) <= 6000
