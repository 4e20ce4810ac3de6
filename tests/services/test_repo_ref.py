"""What people type into the transfer form: accepted spellings and friendly refusals."""

from __future__ import annotations

import pytest

from bot.errors import InvalidInput
from bot.services.repo_ref import (
    RepoRef,
    github_hosts_from_url,
    parse_github_username,
    parse_pypi_name,
    parse_pypi_username,
    parse_repo_ref,
)


@pytest.mark.parametrize(
    "text",
    [
        "pallets-eco/flask-caching",
        "  pallets-eco/flask-caching  ",
        "pallets-eco/flask-caching/",
        "pallets-eco/flask-caching.git",
        "https://github.com/pallets-eco/flask-caching",
        "https://github.com/pallets-eco/flask-caching/",
        "https://github.com/pallets-eco/flask-caching.git",
        "http://github.com/pallets-eco/flask-caching",
        "https://www.github.com/pallets-eco/flask-caching",
        "www.github.com/pallets-eco/flask-caching",
        "github.com/pallets-eco/flask-caching",
        "HTTPS://GitHub.com/pallets-eco/flask-caching//",
        "https://github.com/pallets-eco/flask-caching#readme",
        "git@github.com:pallets-eco/flask-caching.git",
    ],
)
def test_accepted_spellings(text):
    assert parse_repo_ref(text) == RepoRef("pallets-eco", "flask-caching")


def test_case_is_kept_but_the_key_is_lower_case():
    ref = parse_repo_ref("https://github.com/Alice/Flask-Foo")
    assert (ref.owner, ref.name, ref.full_name, ref.key) == ("Alice", "Flask-Foo", "Alice/Flask-Foo", "alice/flask-foo")


def test_names_with_dots_and_underscores():
    assert parse_repo_ref("a-b/my_lib.py") == RepoRef("a-b", "my_lib.py")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("https://gitlab.com/alice/flask-foo", "Only repositories on github.com"),
        ("https://github.com.evil.example/alice/flask-foo", "Only repositories on github.com"),
        ("https://evil.example/github.com/alice/flask-foo", "Only repositories on github.com"),
        ("http://127.0.0.1/alice/flask-foo", "Only repositories on github.com"),
        ("http://127.0.0.1:8080/alice/flask-foo", "Only repositories on github.com"),
        ("http://localhost/alice/flask-foo", "Only repositories on github.com"),
        ("https://user:pass@github.com/alice/flask-foo", "Only repositories on github.com"),
        ("file:///etc/passwd", "Only GitHub web links"),
        ("ftp://github.com/alice/flask-foo", "Only GitHub web links"),
        ("javascript:alert(1)", "not a GitHub repository"),
        ("https://github.com/alice/flask-foo/issues/3", "points inside a repository"),
        ("https://github.com/alice/flask-foo/pull/7", "points inside a repository"),
        ("https://github.com/alice/flask-foo/tree/main/src", "points inside a repository"),
        ("https://github.com/alice/flask-foo/blob/main/setup.py", "points inside a repository"),
        ("https://gist.github.com/alice/0123456789abcdef", "gist"),
        ("https://github.com/orgs/pallets-eco", "not a repository"),
        ("https://github.com/alice", "not a repository address"),
        ("alice", "not a repository address"),
        ("", "missing"),
        ("   ", "missing"),
        ("alice/flask foo", "not a valid GitHub repository name"),
        ("alice/flask<script>", "not a valid GitHub repository name"),
        ("alice/..", "not a valid GitHub repository name"),
        ("alice/.", "not a valid GitHub repository name"),
        ("alice/" + "x" * 101, "not a valid GitHub repository name"),
        ("-alice/flask-foo", "not a valid GitHub account name"),
        ("alice-/flask-foo", "not a valid GitHub account name"),
        ("al_ice/flask-foo", "not a valid GitHub account name"),
        ("a" * 40 + "/flask-foo", "not a valid GitHub account name"),
        ("@everyone/flask-foo", "not a valid GitHub account name"),
        ("x" * 4000, "too long"),
    ],
)
def test_refusals_say_what_is_expected(text, expected):
    with pytest.raises(InvalidInput) as info:
        parse_repo_ref(text)
    assert expected in info.value.message
    assert len(info.value.message) < 400


def test_refusal_echo_cannot_break_inline_code():
    with pytest.raises(InvalidInput) as info:
        parse_repo_ref("alice/`@everyone`")
    assert "``" not in info.value.message and "`@everyone`" not in info.value.message


def test_owner_limits():
    assert parse_repo_ref("a" * 39 + "/x").owner == "a" * 39
    assert parse_repo_ref("a/" + "x" * 100).name == "x" * 100


def test_enterprise_host_is_accepted_only_when_configured():
    hosts = github_hosts_from_url("https://git.example.com")
    assert hosts == ("git.example.com",)
    assert parse_repo_ref("https://git.example.com/alice/lib", extra_hosts=hosts) == RepoRef("alice", "lib")
    with pytest.raises(InvalidInput):
        parse_repo_ref("https://git.example.com/alice/lib")
    assert github_hosts_from_url("https://github.com") == ()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Flask-Caching", "Flask-Caching"),
        ("  flask_caching ", "flask_caching"),
        ("https://pypi.org/project/Flask-Caching/", "Flask-Caching"),
        ("pypi.org/project/Flask-Caching", "Flask-Caching"),
        ("", None),
        (None, None),
    ],
)
def test_pypi_names(text, expected):
    assert parse_pypi_name(text) == expected


@pytest.mark.parametrize(
    "text", ["-flask", "flask-", "flask caching", "https://evil.example/project/x", "https://pypi.org/simple/x/", "ö"]
)
def test_bad_pypi_names(text):
    with pytest.raises(InvalidInput):
        parse_pypi_name(text)


def test_usernames():
    assert parse_github_username("@Alice-1") == "Alice-1"
    assert parse_pypi_username(" alice.b_c ") == "alice.b_c"
    assert parse_pypi_username("") is None
    for bad in ("", "al ice", "@everyone x", "a" * 40, "-a"):
        with pytest.raises(InvalidInput):
            parse_github_username(bad)
    for bad in ("al ice", ".alice", "a" * 51, "<@&123>"):
        with pytest.raises(InvalidInput):
            parse_pypi_username(bad)


@pytest.mark.parametrize("text", ["alice\n/flask-foo", "alice/flask-foo\n/", "alice\n", "flask-foo\n"])
def test_trailing_newlines_never_slip_into_names(text):
    try:
        ref = parse_repo_ref(text)
    except InvalidInput:
        return
    assert "\n" not in ref.owner and "\n" not in ref.name
