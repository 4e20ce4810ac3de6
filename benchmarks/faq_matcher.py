"""Time `FaqBook.match` per message: the labelled set and 10,000 synthetic chat lines.

Run: .venv/bin/python benchmarks/faq_matcher.py [--lines 10000] [--seed 7]
Measured, not asserted: the target is well under 100 µs median per ordinary message.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.services.faq import FaqBook, load_faq  # noqa: E402

OPENERS = ["", "", "hey ", "hi all, ", "ok so ", "btw ", "lol ", "<@182736450019283746> ", "hmm "]
SUBJECTS = [
    "the CI run",
    "flask-caching",
    "my PR",
    "the release",
    "werkzeug 3.1",
    "the docs build",
    "jinja",
    "the test client",
    "click 8.2",
    "the changelog",
    "pypi",
    "the transfer thread",
    "this fork",
    "the translation PR",
    "trusted publishing",
    "the new maintainer",
    "blueprints",
    "the session",
]
PREDICATES = [
    "is failing again",
    "looks good to me",
    "broke on 3.13",
    "got merged",
    "needs a rebase",
    "works for me now",
    "is out",
    "is blocked on review",
    "has a flaky test",
    "is really slow",
    "was released yesterday",
    "needs another approval",
    "is green now",
    "still throws a 500",
]
ENDINGS = ["", "", "!", " 🎉", " thanks", "?", " any idea why?", " :)", " https://github.com/pallets-eco/x/pull/1"]
EXTRAS = [
    "```python\nfrom flask import Flask\napp = Flask(__name__)\n```",
    "`app.config.from_prefixed_env()`",
    "Traceback (most recent call last):\n  File \"app.py\", line 1\nKeyError: 'x'",
    "how do I set SESSION_TYPE to redis?",
    "can someone review this",
    "I'd like to help with the docs",
]


def synthetic_lines(count: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    lines = []
    for _ in range(count):
        line = rng.choice(OPENERS) + f"{rng.choice(SUBJECTS)} {rng.choice(PREDICATES)}{rng.choice(ENDINGS)}"
        if rng.random() < 0.15:
            line += "\n" + rng.choice(EXTRAS)
        lines.append(line)
    return lines


def labelled_lines() -> list[str]:
    with (ROOT / "tests" / "data" / "faq_labelled.toml").open("rb") as fh:
        return [m["text"] for m in tomllib.load(fh)["message"]]


def measure(book: FaqBook, lines: list[str], rounds: int = 5) -> tuple[list[float], int]:
    """Per-message time in µs (best of `rounds`, to drop scheduler noise) and the number matched."""
    timings = []
    matched = 0
    clock = time.perf_counter_ns
    for line in lines:
        best = None
        for _ in range(rounds):
            start = clock()
            result = book.match(line)
            elapsed = clock() - start
            best = elapsed if best is None or elapsed < best else best
        matched += result is not None
        timings.append(best / 1000)
    return timings, matched


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--lines", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    start = time.perf_counter()
    book = load_faq(ROOT / "bot" / "data" / "faq.toml")
    load_ms = (time.perf_counter() - start) * 1000
    print(f"load_faq: {load_ms:.1f} ms for {len(book.topics)} topics\n")
    print(f"{'dataset':<22}{'messages':>9}{'matched':>9}{'median µs':>11}{'p95 µs':>9}{'max µs':>9}")
    for name, lines in (
        ("labelled set", labelled_lines()),
        ("synthetic chat", synthetic_lines(args.lines, args.seed)),
    ):
        timings, matched = measure(book, lines)
        p95 = statistics.quantiles(timings, n=20)[-1]
        print(
            f"{name:<22}{len(lines):>9}{matched:>9}{statistics.median(timings):>11.1f}{p95:>9.1f}{max(timings):>9.1f}"
        )


if __name__ == "__main__":
    main()
