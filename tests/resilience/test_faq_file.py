"""A maintainer's own faq.toml (issue 13 item 8, issue 12's bounded FAQ file): a topic whose answer Discord
would refuse, a file too big, or TOML nested too deeply stops start-up with one line naming the problem,
instead of passing validation and failing every answer (or a traceback)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from bot.__main__ import main
from bot.services.faq import MAX_FILE_BYTES, FaqError, load_faq, topic_embed
from cogs.faq import render_topic
from tests.services.test_faq import ROOT, _write

LONG_LINKS = ", ".join(
    f'{{ label = "{"Guide " * 13}{i}", url = "https://palletsprojects.com/{"p" * 190}{i}" }}' for i in range(5)
)


def _start(tmp_path: Path, faq: Path, monkeypatch: pytest.MonkeyPatch, capsys, command: str) -> tuple[int, list[str]]:
    config = tmp_path / "config.toml"
    example = (ROOT / "config.example.toml").read_text()
    config.write_text(example.replace('# path = "faq.toml"', f"path = {str(faq)!r}"))
    monkeypatch.setenv("DISCORD_TOKEN", "x")
    code = main(["--config", str(config), command])
    return code, capsys.readouterr().err.strip().splitlines()


@pytest.mark.parametrize("command", ["run", "check"])
def test_topic_whose_links_field_discord_would_refuse_stops_start_up(tmp_path, monkeypatch, capsys, command):
    faq = _write(tmp_path, links=LONG_LINKS)  # every link is valid alone; together > 1,024 characters
    code, err = _start(tmp_path, faq, monkeypatch, capsys, command)
    assert code == 2
    assert len(err) == 1, err
    assert err[0].startswith("error: faq.toml: topic 'sample-topic': the answer as posted breaks Discord's embed")
    assert "'Links' value is 1" in err[0] and "Discord allows 1024" in err[0]


def test_too_big_file_is_refused_before_parsing(tmp_path, monkeypatch, capsys):
    faq = _write(tmp_path, header="# " + "x" * MAX_FILE_BYTES + "\n")
    code, err = _start(tmp_path, faq, monkeypatch, capsys, "check")
    assert code == 2 and len(err) == 1, err
    assert "bytes, at most 262,144 allowed" in err[0]


def test_deeply_nested_toml_is_one_line_and_quick(tmp_path, monkeypatch, capsys):
    faq = tmp_path / "faq.toml"
    faq.write_text("x = " + "[" * 50_000 + "]" * 50_000 + "\n")
    started = time.perf_counter()
    code, err = _start(tmp_path, faq, monkeypatch, capsys, "check")
    assert time.perf_counter() - started < 5
    assert code == 2 and err == ["error: faq.toml: invalid TOML: arrays or tables nested too deeply"]


def test_binary_junk_is_one_line(tmp_path):
    faq = tmp_path / "faq.toml"
    faq.write_bytes(b"\xff\xfe\x00topic = 1\n" * 10)
    with pytest.raises(FaqError) as failed:
        load_faq(faq)
    assert "\n" not in str(failed.value) and "cannot read" in str(failed.value)


def test_shipped_topics_render_within_every_limit():
    book = load_faq(ROOT / "bot" / "data" / "faq.toml")
    for topic in book.topics:
        for automatic in (True, False):
            posted = render_topic(topic, automatic=automatic).to_dict()
            expected = topic_embed(topic, automatic=automatic)
            assert {k: posted.get(k) for k in expected} == expected  # what was checked is what is sent
            assert all(len(f["value"]) <= 1024 for f in posted.get("fields", []))
