"""ARCHITECTURE.md stays true: every file and function it names exists, every `ARCHITECTURE.md#section`
a comment points at is a real heading, the layers import what the map says, and no comment points at a
document a person who clones the repository can't open."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
MAP = ROOT / "ARCHITECTURE.md"

# `bot/services/states.py`, `bot/services/states.py::transition`, `cogs/review.py::Review.confirm`, `tests/fakes/`
REFERENCE = re.compile(r"`((?:[\w.-]+/)*[\w.-]+\.(?:py|toml|md)|(?:[\w.-]+/)+)(?:::([\w.]+))?`")
ANCHOR_LINK = re.compile(r"ARCHITECTURE\.md#([\w-]+)")
# Documents that live outside the repository (the team's notes, the issue tracker's bare numbers).
OUTSIDE = re.compile(r"CONTEXT\.md|STYLE\.md|PREAMBLE[0-9]*\.md|§|\bissues? #?[0-9]+\b|\bPR #?[0-9]+\b", re.IGNORECASE)
SCANNED = ("bot", "cogs", "benchmarks")
# Glue between discord.py and the core: the only modules in bot/ that may import discord or cogs.
GLUE = {"bot/app.py", "bot/runner.py", "bot/cli.py", "bot/__main__.py"}


def _text() -> str:
    return MAP.read_text(encoding="utf-8")


def _references() -> list[tuple[str, str | None]]:
    return [(m[1], m[2]) for m in REFERENCE.finditer(_text())]


def _defines(body: list[ast.stmt], name: str) -> ast.stmt | None:
    for node in body:
        if isinstance(node, (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.name == name:
            return node
        targets: list[ast.expr] = []
        if isinstance(node, ast.Assign):
            targets = node.targets
        elif isinstance(node, ast.AnnAssign):
            targets = [node.target]
        if any(isinstance(t, ast.Name) and t.id == name for t in targets):
            return node
    return None


def _resolve(path: Path, dotted: str) -> bool:
    body = ast.parse(path.read_text(encoding="utf-8")).body
    node: ast.stmt | None = None
    for part in dotted.split("."):
        node = _defines(body, part)
        if node is None:
            return False
        body = node.body if isinstance(node, ast.ClassDef) else []
    return True


def _slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces as hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def _anchors() -> set[str]:
    return {_slug(line.lstrip("#")) for line in _text().splitlines() if line.startswith("#")}


def _source_files() -> list[Path]:
    files: list[Path] = []
    for top in SCANNED:
        files += [p for p in (ROOT / top).rglob("*") if p.suffix in (".py", ".toml", ".md") and p.is_file()]
    return sorted(files)


def test_every_file_and_function_the_map_names_exists():
    references = _references()
    assert len(references) > 100, "the reference pattern no longer matches how ARCHITECTURE.md cites code"
    missing = []
    for path, symbol in references:
        target = ROOT / path
        if not target.exists():
            missing.append(path)
        elif symbol and not _resolve(target, symbol):
            missing.append(f"{path}::{symbol}")
    assert not missing, f"ARCHITECTURE.md names what no longer exists: {missing}"


def test_resolving_a_reference_notices_a_rename():
    # The checker itself: a real method resolves, a made-up one does not.
    assert _resolve(ROOT / "bot/services/states.py", "transition")
    assert _resolve(ROOT / "cogs/review.py", "Review.confirm")
    assert not _resolve(ROOT / "cogs/review.py", "Review.no_such_method")
    assert not _resolve(ROOT / "bot/services/states.py", "transition.inner")


def test_every_architecture_link_in_the_code_and_the_map_is_a_heading():
    anchors = _anchors()
    assert "invariants" in anchors and "user-flows" in anchors
    broken = []
    for path in [MAP, *_source_files()]:
        text = path.read_text(encoding="utf-8")
        links = ANCHOR_LINK.findall(text) + (re.findall(r"\]\(#([\w-]+)\)", text) if path == MAP else [])
        broken += [f"{path.relative_to(ROOT)}: #{a}" for a in links if a not in anchors]
    assert not broken, f"links to sections ARCHITECTURE.md doesn't have: {broken}"


def test_no_comment_points_at_a_document_outside_the_repository():
    found = []
    for path in _source_files():
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if OUTSIDE.search(line):
                found.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert not found, (
        "these point at documents a person who clones the repository can't open; say the fact in place, "
        "point at an ARCHITECTURE.md section (ARCHITECTURE.md#<heading>), or link a public URL:\n"
        + "\n".join(found)
    )


def _imports(tree: ast.Module, *, top_level_only: bool) -> set[str]:
    nodes = tree.body if top_level_only else list(ast.walk(tree))
    names: set[str] = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def _banned(name: str, prefixes: tuple[str, ...]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def test_the_core_never_imports_discord_or_the_discord_layer():
    banned = ("discord", "cogs", "bot.app", "bot.runner", "bot.cli")
    offenders = []
    for path in sorted((ROOT / "bot").rglob("*.py")):
        rel = path.relative_to(ROOT).as_posix()
        if rel in GLUE:
            continue
        names = _imports(ast.parse(path.read_text(encoding="utf-8")), top_level_only=False)
        offenders += [f"{rel}: {n}" for n in sorted(names) if _banned(n, banned)]
    assert not offenders, f"bot/ outside the glue modules imports the Discord layer: {offenders}"


def test_cogs_import_the_bot_class_only_for_type_checking_and_no_api_client_or_database():
    offenders = []
    for path in sorted((ROOT / "cogs").rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        runtime = _imports(tree, top_level_only=True)
        offenders += [f"{path.name}: {n}" for n in sorted(runtime) if _banned(n, ("bot.app", "bot.runner", "bot.cli"))]
        # GitHub, PyPI and the database are reached through a service, never from a cog.
        anywhere = _imports(tree, top_level_only=False)
        direct = ("bot.github", "bot.pypi", "bot.http", "aiohttp", "sqlalchemy")
        offenders += [f"{path.name}: {n}" for n in sorted(anywhere) if _banned(n, direct)]
    assert not offenders, f"cogs import what only services or the composition root may: {offenders}"


def test_the_layer_checks_notice_an_offending_import():
    assert _banned("discord.ext.commands", ("discord",))
    assert not _banned("discordant", ("discord",))
    tree = ast.parse("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from bot.app import EcoBot\n")
    assert "bot.app" not in _imports(tree, top_level_only=True)
    assert "bot.app" in _imports(tree, top_level_only=False)
    assert OUTSIDE.search("# see CONTEXT.md §2") and OUTSIDE.search("(issue 12)")
    assert not OUTSIDE.search("https://github.com/pallets-eco/flask-mail/issues/12")
