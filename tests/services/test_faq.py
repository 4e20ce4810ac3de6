"""The FAQ file, its validation, and the matcher's behaviour on real-looking chat."""

from __future__ import annotations

import tomllib
from collections import Counter
from pathlib import Path

import pytest

from bot.services.faq import FaqBook, FaqError, FaqTopic, is_question_like, load_faq, normalise

ROOT = Path(__file__).resolve().parents[2]
FAQ_PATH = ROOT / "bot" / "data" / "faq.toml"
LABELLED_PATH = ROOT / "tests" / "data" / "faq_labelled.toml"

REQUIRED_IDS = {
    "transfer-extension",
    "not-owner-fork",
    "pypi-ownership",
    "final-say",
    "official-status",
    "docs-translations",
    "non-extension-projects",
    "scope",
    "start-contributing",
    "issue-assignment",
    "beginner-issues",
    "no-open-issues",
    "release-rights",
    "code-of-conduct",
    "join-org",
}
# The only links the bot may show (CONTEXT.md §1), plus the translations project it names.
CURRENT_LINKS = {
    "https://palletsprojects.com/contributing/",
    "https://palletsprojects.com/ecosystem",
    "https://palletsprojects.com/code-of-conduct",
    "https://docs.github.com/en/repositories/creating-and-managing-repositories/transferring-a-repository",
    "https://github.com/pallets-eco/flask-docs-translations",
    # PyPI's name-retention policy and where its requests are filed (abandoned-pypi-name).
    "https://peps.python.org/pep-0541/",
    "https://github.com/pypi/support",
}


@pytest.fixture(scope="module")
def book() -> FaqBook:
    return load_faq(FAQ_PATH)


def _labelled() -> list[tuple[str, str]]:
    with LABELLED_PATH.open("rb") as fh:
        return [(m["text"], m["topic"]) for m in tomllib.load(fh)["message"]]


def _predicted(book: FaqBook, text: str) -> str:
    found = book.match(text)
    return found.topic.id if found else ""


# ------------------------------------------------------------------ shipped content


def test_shipped_faq_has_every_required_topic(book: FaqBook) -> None:
    assert REQUIRED_IDS <= {topic.id for topic in book.topics}
    for topic_id in REQUIRED_IDS:
        topic = book.get(topic_id)
        assert isinstance(topic, FaqTopic) and topic.id == topic_id


def test_answers_are_brief_safe_and_link_current_pages(book: FaqBook) -> None:
    for topic in book.topics:
        assert len(topic.answer) <= 900, topic.id
        for forbidden in ("@everyone", "@here", "<@"):
            assert forbidden not in topic.answer, topic.id
        assert "CONTRIBUTING.rst" not in topic.answer
        assert topic.links, topic.id
        for link in topic.links:
            assert link.url in CURRENT_LINKS, (topic.id, link.url)


def test_answers_state_the_facts_maintainers_rely_on(book: FaqBook) -> None:
    def answer(topic_id: str) -> str:
        topic = book.get(topic_id)
        assert topic is not None
        return topic.answer

    assert "davidism" in answer("pypi-ownership") and "Owner" in answer("pypi-ownership")
    assert "Maintainer" in answer("pypi-ownership")
    assert "davidism" in answer("transfer-extension")
    assert "fork" in answer("not-owner-fork")
    assert "Only the current owner" in answer("not-owner-fork")
    assert "final say" in answer("final-say") and "collaborator" in answer("final-say")
    assert "not an official" in answer("official-status")
    assert "flask-docs-translations" in answer("docs-translations")
    assert "Flask Community Working Group" in answer("docs-translations")
    assert "no linked" in answer("issue-assignment") and "opening a pull request" in answer("issue-assignment")
    assert "/eco contribute" in answer("beginner-issues")
    assert "trusted members" in answer("release-rights")
    for library in ("Click", "Jinja", "Werkzeug"):
        assert library in answer("scope")
    urls = {link.url for link in book.get("transfer-extension").links}  # type: ignore[union-attr]
    assert any("docs.github.com" in url for url in urls)


def test_get_unknown_topic_is_none(book: FaqBook) -> None:
    assert book.get("no-such-topic") is None


# ------------------------------------------------------------------------ validation

VALID_TOPIC = """
[[topic]]
id = "{id}"
title = "A title"
answer = "{answer}"
links = [{links}]
triggers = [{triggers}]
keywords = [{keywords}]
"""


def _write(tmp_path: Path, *, header: str = "", **overrides: str) -> Path:
    fields = {
        "id": "sample-topic",
        "answer": "An answer.",
        "links": '{ label = "Guide", url = "https://palletsprojects.com/contributing/" }',
        "triggers": '"sample question"',
        "keywords": '["alpha"], ["beta", "@greek"]',
    }
    fields.update(overrides)
    path = tmp_path / "faq.toml"
    path.write_text(header + '[concepts]\ngreek = ["gamma"]\n' + VALID_TOPIC.format(**fields))
    return path


def test_minimal_file_loads_and_matches(tmp_path: Path) -> None:
    book = load_faq(_write(tmp_path))
    assert [t.id for t in book.topics] == ["sample-topic"]
    assert book.match("how does the sample question work?").reason == "trigger 'sample question'"
    assert book.match("is there alpha with gamma here?").score < 1.0
    assert book.match("alpha and gamma are here") is None  # not a question


@pytest.mark.parametrize(
    ("header", "overrides", "expected"),
    [
        ("colour = 1\n", {}, "unknown key 'colour'"),
        ("", {"answer": 'An answer."\nanwser = "typo'}, "topic 'sample-topic': unknown key 'anwser'"),
        ("", {"id": "Bad_Id"}, "key 'id': 'Bad_Id' is not kebab-case"),
        ("", {"links": '{ label = "x", url = "http://example.com" }'}, "url: 'http://example.com'"),
        ("", {"links": '{ label = "x", url = "not a url" }'}, "is not an https:// URL"),
        ("", {"links": '{ label = "x", url = "https://a.io", colour = "red" }'}, "unknown key 'colour'"),
        ("", {"triggers": ""}, "topic 'sample-topic': key 'triggers': must not be empty"),
        ("", {"triggers": '"  ... "'}, "term '  ... ' has no words"),
        ("", {"answer": "x" * 5000}, "key 'answer': 5000 characters, at most 4096"),
        ("", {"answer": "Ask @everyone"}, "key 'answer': must not contain '@everyone'"),
        ("", {"answer": "Ask <@123>"}, "must not contain '<@'"),
        ("", {"keywords": '["alpha"]'}, "key 'keywords': must be a list of at least two groups"),
        ("", {"keywords": '["alpha"], ["@nope"]'}, "unknown concept '@nope'"),
        ("", {"keywords": '["alpha"], []'}, "key 'keywords' group 2: must not be empty"),
    ],
)
def test_invalid_file_gives_one_clear_line(
    tmp_path: Path, header: str, overrides: dict[str, str], expected: str
) -> None:
    with pytest.raises(FaqError) as info:
        load_faq(_write(tmp_path, header=header, **overrides))
    message = str(info.value)
    assert message.startswith("faq.toml:")
    assert expected in message
    assert "\n" not in message


def test_missing_key_names_topic_and_key(tmp_path: Path) -> None:
    path = tmp_path / "faq.toml"
    path.write_text('[[topic]]\nid = "x"\ntitle = "t"\nlinks = []\ntriggers = ["a b"]\n')
    with pytest.raises(FaqError, match=r"faq.toml: topic 'x': missing key 'answer'"):
        load_faq(path)


def test_duplicate_id_is_rejected(tmp_path: Path) -> None:
    path = _write(tmp_path)
    path.write_text(
        path.read_text()
        + VALID_TOPIC.format(id="sample-topic", answer="Other.", links="", triggers='"other"', keywords="")
    )
    with pytest.raises(FaqError, match=r"faq.toml: topic #2: duplicate id 'sample-topic'"):
        load_faq(path)


def test_broken_toml_and_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "faq.toml"
    path.write_text("[[topic]\nid = ")
    with pytest.raises(FaqError, match=r"^faq.toml: invalid TOML"):
        load_faq(path)
    with pytest.raises(FaqError, match="file not found"):
        load_faq(tmp_path / "absent.toml")


# ------------------------------------------------------------------------- matching


def test_every_topic_is_matched_in_at_least_three_phrasings(book: FaqBook) -> None:
    hits: Counter[str] = Counter()
    for text, topic in _labelled():
        if topic and _predicted(book, text) == topic:
            hits[topic] += 1
    missing = {topic.id: hits[topic.id] for topic in book.topics if hits[topic.id] < 3}
    assert not missing


def test_labelled_set_precision_and_recall(book: FaqBook) -> None:
    labelled = _labelled()
    assert sum(1 for _, t in labelled if not t) >= 70 and len(labelled) >= 140
    true_pos = false_pos = false_neg = 0
    for text, want in labelled:
        got = _predicted(book, text)
        true_pos += bool(want) and got == want
        false_pos += bool(got) and got != want
        false_neg += bool(want) and got != want
    precision = true_pos / (true_pos + false_pos)
    recall = true_pos / (true_pos + false_neg)
    print(
        f"\nFAQ matcher on {len(labelled)} labelled messages: precision {precision:.3f}, "
        f"recall {recall:.3f} (tp={true_pos} fp={false_pos} fn={false_neg})"
    )
    assert precision >= 0.95
    assert recall >= 0.8


def test_match_explains_itself(book: FaqBook) -> None:
    found = book.match("How do I transfer my Flask extension to pallets-eco?")
    assert found is not None and found.topic.id == "transfer-extension"
    assert 0 < found.score <= 1 and found.reason


def test_specific_topic_wins_over_general_one(book: FaqBook) -> None:
    # Both mention transferring; the fork path must win for someone who isn't the owner.
    text = "can I transfer an extension I dont own? the author is gone"
    assert _predicted(book, text) == "not-owner-fork"


HOSTILE = [
    "lorem ipsum dolor sit amet " * 150,
    "x" * 4000,
    "how do I transfer my extension? " + "a" * 5000,  # a wall of text is not an FAQ question
    "😀" * 500,
    "<:pepe:123456789012345678> <a:party:123456789012345678>",
    "```python\nhow do I transfer my extension to pallets-eco?\n```",
    "```\nhow can i join the org?",  # unclosed code block swallows the rest
    "`how do I contribute?`",
    "\u200b\u200c\u200d\ufeff" * 100,
    "\u200bhello\u200b \u200bthere\u200b",
    "@everyone how do I transfer my extension to pallets-eco?",
    "@here is pallets-eco official?",
    "<@&123456789012345678> who can publish releases?",
    "<@123> <@!456> <#789> <@&1011>",
    "\x00\x01\x02\x03\x07\x1b[31m\x7f" * 50,
    "how\x00 do\x1b i\x08 ",
    "¿Cómo puedo transferir mi extensión a pallets-eco?",
    "Comment est-ce que je peux rejoindre l'organisation pallets-eco ?",
    "Wie kann ich zu pallets-eco beitragen?",
    "pallets-eco はオフィシャルですか？",
    "Как передать моё расширение в pallets-eco?",
    "como faço para transferir minha extensão?",
    "https://github.com/pallets-eco/flask-caching/issues/1",
    'Traceback (most recent call last):\n  File "x.py", line 1\nhow do i transfer my extension?',
    "",
    " ",
    "?",
]


@pytest.mark.parametrize("text", HOSTILE)
def test_hostile_input_never_raises_and_never_matches(book: FaqBook, text: str) -> None:
    assert book.match(text) is None


def test_normalise_strips_what_chat_adds() -> None:
    raw = "Hey <@123>, HOW do I `pip install` it?\u200b See https://x.io/a <:e:99> ```code```"
    assert normalise(raw) == "hey how do i it see"
    assert normalise("pallets-eco's Owner role") == "pallets ecos owner role"


def test_is_question_like() -> None:
    assert is_question_like("how do I join the org")
    assert is_question_like("I'd like to move my extension to pallets-eco")
    assert is_question_like("is there a code of conduct?")
    assert not is_question_like("merged, thanks for the contribution!")
    assert not is_question_like("```\nwhy?\n```")
    assert not is_question_like("¿Alguien sabe si pallets-eco es oficial?")


# --------------------------------------------------------------------- autocomplete


def test_search_for_autocomplete(book: FaqBook) -> None:
    assert book.search("pypi")[0].id == "pypi-ownership"
    assert book.search("PyPI")[0].id == "pypi-ownership"
    assert "transfer-extension" in [t.id for t in book.search("transfer")]
    assert [t.id for t in book.search("code conduct")] == ["code-of-conduct"]
    assert len(book.search("")) == min(25, len(book.topics))
    assert book.search("zzzqqq") == []
    assert len(book.search("", limit=3)) == 3


# ------------------------------------------------------------------------- start-up


@pytest.mark.parametrize("command", ["run", "check"])
def test_bot_refuses_to_start_with_a_broken_faq_and_says_where(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], command: str
) -> None:
    from bot.__main__ import main

    broken = _write(tmp_path, links='{ label = "Old guide", url = "http://flask.pocoo.org/docs/" }')
    config = tmp_path / "config.toml"
    example = (ROOT / "config.example.toml").read_text()
    assert '# path = "faq.toml"' in example
    config.write_text(example.replace('# path = "faq.toml"', f"path = {str(broken)!r}"))
    monkeypatch.setenv("DISCORD_TOKEN", "x")

    assert main(["--config", str(config), command]) == 2
    err = capsys.readouterr().err
    assert err.strip().splitlines() == [
        "error: faq.toml: topic 'sample-topic': key 'links'[1] url: 'http://flask.pocoo.org/docs/' "
        "is not an https:// URL"
    ]
