"""Small statistics and the Markdown table every benchmark contributes rows to."""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

NA = "n/a"


def percentile(values: Sequence[float], pct: float) -> float:
    """Nearest-rank percentile (p99 of 30 samples is the largest one, as it should be)."""
    if not values:
        raise ValueError("no values")
    ordered = sorted(values)
    rank = max(1, math.ceil(pct / 100 * len(ordered)))
    return ordered[rank - 1]


def median(values: Iterable[float]) -> float:
    return statistics.median(list(values))


@dataclass
class Row:
    """One figure, side by side: ours, the bare bot's, and their ratio (None: not applicable)."""

    section: str
    metric: str
    ours: float | None
    bare: float | None
    unit: str = ""
    note: str = ""
    digits: int = 1

    @property
    def ratio(self) -> float | None:
        if self.ours is None or self.bare is None or self.bare == 0:
            return None
        return self.ours / self.bare

    def cells(self) -> list[str]:
        ratio = self.ratio
        return [
            self.metric,
            _fmt(self.ours, self.digits, self.unit),
            _fmt(self.bare, self.digits, self.unit),
            NA if ratio is None else f"{ratio:.2f}x",
            self.note,
        ]


def _fmt(value: float | None, digits: int, unit: str) -> str:
    if value is None:
        return NA
    text = f"{value:,.{digits}f}"
    return f"{text} {unit}".strip()


@dataclass
class Table:
    title: str
    preamble: list[str] = field(default_factory=list)
    rows: list[Row] = field(default_factory=list)

    def add(self, row: Row) -> Row:
        self.rows.append(row)
        return row

    def markdown(self) -> str:
        lines = [f"# {self.title}", ""]
        lines.extend(self.preamble)
        if self.preamble:
            lines.append("")
        sections: dict[str, list[Row]] = {}
        for row in self.rows:
            sections.setdefault(row.section, []).append(row)
        for section, rows in sections.items():
            lines += [f"## {section}", "", "| Measurement | Ours | Bare | Ratio | Note |", "|---|---:|---:|---:|---|"]
            lines += ["| " + " | ".join(cell.replace("|", "\\|") for cell in row.cells()) + " |" for row in rows]
            lines.append("")
        return "\n".join(lines)
