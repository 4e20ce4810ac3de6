"""Precision and recall of the FAQ matcher on the tuning set and on the held-out set, reported apart.

Run: .venv/bin/python -m benchmarks.faq_quality [--misses]

- tests/data/faq_labelled.toml is the TUNING set: add a message there when the bot misfires.
- tests/data/faq_heldout.toml is the HELD-OUT set: written before the matcher was tuned on paraphrases,
  never used for tuning. Its figures are the honest estimate for phrasings nobody has seen.

"Questions answered right" = questions (topic != "") answered with their topic (or a topic in `also`);
"chat answered" = ordinary messages (topic == "") the bot would answer with any topic.
"""

from __future__ import annotations

import argparse
import sys
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bot.services.faq import FaqBook, load_faq  # noqa: E402

TUNING = ROOT / "tests" / "data" / "faq_labelled.toml"
HELDOUT = ROOT / "tests" / "data" / "faq_heldout.toml"
SHIPPED = ROOT / "bot" / "data" / "faq.toml"


@dataclass(frozen=True)
class Labelled:
    text: str
    topic: str
    also: tuple[str, ...] = ()
    style: str = ""


@dataclass
class Figures:
    name: str
    questions: int = 0
    right: int = 0  # answered with the right topic
    wrong: int = 0  # answered with another topic
    chat: int = 0
    chat_answered: int = 0
    misses: list[tuple[Labelled, str]] = field(default_factory=list)

    @property
    def recall(self) -> float:
        return self.right / self.questions if self.questions else 0.0

    @property
    def precision(self) -> float:
        answered = self.right + self.wrong + self.chat_answered
        return self.right / answered if answered else 1.0

    @property
    def chat_rate(self) -> float:
        return self.chat_answered / self.chat if self.chat else 0.0

    def line(self) -> str:
        return (f"{self.name}: {self.right}/{self.questions} questions answered on the right topic "
                f"({self.recall:.1%}), {self.wrong} on a wrong topic; {self.chat_answered}/{self.chat} "
                f"ordinary messages answered ({self.chat_rate:.1%}); precision {self.precision:.1%}")


def load_set(path: Path) -> list[Labelled]:
    with path.open("rb") as fh:
        return [Labelled(m["text"], m["topic"], tuple(m.get("also", ())), m.get("style", ""))
                for m in tomllib.load(fh)["message"]]


def evaluate(book: FaqBook, name: str, messages: list[Labelled]) -> Figures:
    figures = Figures(name)
    for message in messages:
        found = book.match(message.text)
        got = found.topic.id if found else ""
        if message.topic:
            figures.questions += 1
            if got and (got == message.topic or got in message.also):
                figures.right += 1
            else:
                figures.wrong += bool(got)
                figures.misses.append((message, got))
        else:
            figures.chat += 1
            if got:
                figures.chat_answered += 1
                figures.misses.append((message, got))
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--faq", type=Path, default=SHIPPED)
    parser.add_argument("--misses", action="store_true", help="list the TUNING set's misses (never the held-out's)")
    args = parser.parse_args(argv)
    book = load_faq(args.faq)
    tuning = evaluate(book, "tuning set", load_set(TUNING))
    heldout = evaluate(book, "held-out set", load_set(HELDOUT))
    print(tuning.line())
    print(heldout.line())
    if args.misses:
        for message, got in tuning.misses:
            print(f"  want {message.topic or '-':<24} got {got or '-':<24} {message.text[:100]!r}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
