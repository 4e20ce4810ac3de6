"""Reading a repository's package files (pyproject.toml, setup.cfg, setup.py): bounded and isolated.

The files come from anyone with a public repository, so nothing here trusts them:

- a file larger than `MAX_FILE_CHARS` is not parsed at all;
- setup.py is read with linear scans (no regex that can backtrack over the whole file);
- tomllib and configparser are not linear on every input (a dotted key of 100,000 parts makes
  tomllib build a quadratic index and exhaust memory; ~500 nested arrays raise RecursionError), so
  they run in a separate Python process with a memory and CPU limit, killed after `PARSE_TIMEOUT`
  seconds. The event loop only waits for its answer;
- every failure of one file becomes a short, fixed reason ("it is not valid TOML"), never an
  exception and never an echo of the file's content.

This module uses the standard library only: `python -I -S package_files.py` is the worker.
"""

from __future__ import annotations

import asyncio
import configparser
import json
import os
import re
import sys
import tomllib
from dataclasses import dataclass, field
from typing import Any

MAX_FILE_CHARS = 128 * 1024  # real package files are a few KiB (big tool configs: ~40); GitHub inlines up to 1 MB
MAX_NAME_CHARS = 200  # what the transfer form accepts for a PyPI project name
MAX_DEPS = 300
MAX_CLASSIFIERS = 200
MAX_VALUE_CHARS = 300  # one requirement or classifier string
MAX_TOML_DOTS_PER_LINE = 200  # tomllib's cost grows with the square of a dotted key's parts
PARSE_TIMEOUT = 3.0  # seconds of wall time for the worker, all files of one repository together
WORKER_MEMORY = 256 * 1024 * 1024  # address-space limit of the worker process (bytes)
WORKER_CPU_SECONDS = 2
MAX_WORKERS = 2  # parser processes at once, whatever the number of submissions
_WORKER = os.path.abspath(__file__)

# PEP 508 project names: ASCII letters and digits, with '.', '_' and '-' inside.
_PROJECT_NAME = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?")
_REQ_NAME = re.compile(r"[ \t]*([A-Za-z0-9][A-Za-z0-9._-]*)")
_NAME_OPENER = re.compile(r"\bname[ \t]*=[ \t]*([\"'])")
_REQUIRES_OPENER = re.compile(r"install_requires[ \t\r\n]*=[ \t\r\n]*\[")
_QUOTED = re.compile(r"""["']([^"'\n]{1,300})["']""")
_FRAMEWORK = re.compile(r"""["'](Framework :: [^"'\n]{1,200})["']""")


class Unreadable(Exception):
    """A package file the bot could not read; the message is a fixed, user-safe reason."""


def valid_project_name(name: object) -> str | None:
    """`name` stripped when it is a PEP 508 project name of at most MAX_NAME_CHARS, else None."""
    if not isinstance(name, str):
        return None
    value = name.strip()
    if not value or len(value) > MAX_NAME_CHARS or not _PROJECT_NAME.fullmatch(value):
        return None
    return value


def requirement_name(requirement: object) -> str | None:
    """The PEP 503-normalised project name a requirement string starts with."""
    if not isinstance(requirement, str):
        return None
    match = _REQ_NAME.match(requirement[:MAX_VALUE_CHARS])
    return re.sub(r"[-_.]+", "-", match.group(1)).lower() if match else None


@dataclass
class FileFacts:
    """What one package file says: the project name (validated), dependencies and classifiers."""

    has_package: bool = False
    name: str | None = None
    invalid_name: bool = False  # a name was given but it is not a valid PyPI project name
    deps: list[str] = field(default_factory=list)
    classifiers: list[str] = field(default_factory=list)

    def set_name(self, value: object) -> None:
        if self.name is not None or not isinstance(value, str) or not value.strip() or "{" in value:
            return  # "{" is a templated name (cookiecutter): not a name at all
        name = valid_project_name(value)
        if name is None:
            self.invalid_name = True
        else:
            self.name = name

    def add_deps(self, requirements: object) -> None:
        if isinstance(requirements, dict):
            requirements = list(requirements)
        if not isinstance(requirements, list | tuple):
            return
        for req in requirements[: MAX_DEPS * 2]:
            name = requirement_name(req)
            if name and name not in self.deps and len(self.deps) < MAX_DEPS:
                self.deps.append(name)

    def add_classifiers(self, values: object) -> None:
        if not isinstance(values, list | tuple):
            return
        for value in values[: MAX_CLASSIFIERS * 2]:
            if isinstance(value, str) and value.strip() and len(self.classifiers) < MAX_CLASSIFIERS:
                self.classifiers.append(value.strip()[:MAX_VALUE_CHARS])

    def to_dict(self) -> dict[str, Any]:
        return {
            "has_package": self.has_package,
            "name": self.name,
            "invalid_name": self.invalid_name,
            "deps": self.deps,
            "classifiers": self.classifiers,
        }


def _table(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _prepare(text: str) -> str:
    if len(text) > MAX_FILE_CHARS:
        raise Unreadable(f"it is larger than {MAX_FILE_CHARS // 1024} KiB")
    if "\x00" in text:
        raise Unreadable("it is not UTF-8 text")
    return text.removeprefix("\ufeff")  # a UTF-8 byte order mark is harmless: drop it


def _pyproject(text: str) -> FileFacts:
    # A key can't span lines, so this caps every dotted key (a real pyproject.toml has a few dots a line).
    if any(line.count(".") > MAX_TOML_DOTS_PER_LINE for line in text.split("\n")):
        raise Unreadable("it has a line with too many dotted parts")
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError:
        raise Unreadable("it is not valid TOML") from None
    facts = FileFacts()
    project = _table(data.get("project"))
    poetry = _table(_table(data.get("tool")).get("poetry"))
    facts.has_package = bool(project or poetry)
    facts.set_name(project.get("name") or poetry.get("name"))
    facts.add_deps(project.get("dependencies"))
    facts.add_deps(poetry.get("dependencies"))
    facts.add_classifiers(project.get("classifiers") or poetry.get("classifiers"))
    return facts


def _setup_cfg(text: str) -> FileFacts:
    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read_string(text)
    except configparser.Error:
        raise Unreadable("it is not a valid setup.cfg (INI) file") from None
    facts = FileFacts()
    if parser.has_section("metadata"):
        facts.has_package = True
        facts.set_name(parser.get("metadata", "name", fallback=None))
        facts.add_classifiers(parser.get("metadata", "classifiers", fallback="").split("\n"))
    facts.add_deps(parser.get("options", "install_requires", fallback="").split("\n"))
    return facts


def _setup_py(text: str) -> FileFacts:
    """Linear scans only: each opener is followed by one `find` for its closer, and the search
    resumes after that closer, so no character is scanned more than a fixed number of times."""
    facts = FileFacts(has_package=True)
    for match in _NAME_OPENER.finditer(text):
        end = text.find(match.group(1), match.end(), match.end() + MAX_NAME_CHARS + 1)
        if end != -1:
            facts.set_name(text[match.end() : end])
            break
    pos = 0
    while len(facts.deps) < MAX_DEPS:
        opener = _REQUIRES_OPENER.search(text, pos)
        if opener is None:
            break
        close = text.find("]", opener.end())
        if close == -1:
            break  # no "]" after this opener: none after any later one either
        facts.add_deps(_QUOTED.findall(text, opener.end(), close))
        pos = close + 1
    facts.add_classifiers(_FRAMEWORK.findall(text))
    return facts


PARSERS = {"pyproject.toml": _pyproject, "setup.cfg": _setup_cfg, "setup.py": _setup_py}


def parse_file(filename: str, text: str) -> FileFacts:
    """Parse one package file in this process. Raises `Unreadable` with a fixed reason on any failure."""
    parser = PARSERS.get(filename)
    if parser is None:
        raise Unreadable("it is not a package file the bot reads")
    text = _prepare(text)
    try:
        return parser(text)
    except Unreadable:
        raise
    except RecursionError:
        raise Unreadable("it is nested too deeply") from None
    except MemoryError:
        raise Unreadable("it is too large or too complex to read") from None
    except Exception:  # anything else a crafted file provokes in a parser: still one file's problem
        raise Unreadable("it could not be parsed") from None


@dataclass(frozen=True)
class FileResult:
    filename: str
    facts: FileFacts | None
    error: str | None  # why the file could not be read


async def parse_files(files: list[tuple[str, str]], *, timeout: float = PARSE_TIMEOUT) -> list[FileResult]:
    """Parse package files in a worker process with memory/CPU limits, killed after `timeout`.

    Every file gets a result: its facts, or the reason it could not be read. Never raises (except
    CancelledError): a worker that can't start, crashes or runs out of time is reported per file."""
    results: dict[str, FileResult] = {}
    todo: list[tuple[str, str]] = []
    for filename, text in files:
        if len(text) > MAX_FILE_CHARS:  # not even sent to the worker
            results[filename] = FileResult(filename, None, f"it is larger than {MAX_FILE_CHARS // 1024} KiB")
        else:
            todo.append((filename, text))
    if todo:
        async with _workers():
            results.update(await _run_worker(todo, timeout))
    return [results[f] for f, _ in files]


_SEMAPHORE: dict[int, asyncio.Semaphore] = {}


def _workers() -> asyncio.Semaphore:
    # One semaphore per event loop (tests run several loops in one process).
    loop = asyncio.get_running_loop()
    sem = _SEMAPHORE.get(id(loop))
    if sem is None:
        _SEMAPHORE.clear()
        sem = _SEMAPHORE[id(loop)] = asyncio.Semaphore(MAX_WORKERS)
    return sem


async def _run_worker(todo: list[tuple[str, str]], timeout: float) -> dict[str, FileResult]:
    results: dict[str, FileResult] = {}
    payload = json.dumps({"files": todo}).encode()
    try:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-I", "-S", _WORKER,
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL,
        )
    except OSError:
        return {f: FileResult(f, None, "the bot could not start its file reader") for f, _ in todo}
    out = b""
    try:
        out, _ = await asyncio.wait_for(proc.communicate(payload), timeout)
        why = "it is too large or too complex to read"
    except TimeoutError:
        why = f"reading it took longer than {timeout:g} seconds"
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    for line in out.decode("utf-8", "replace").splitlines():
        try:
            item = json.loads(line)
            name = item["file"]
            if item.get("error"):
                results[name] = FileResult(name, None, str(item["error"])[:100])
            else:
                data = item["facts"]
                facts = FileFacts(
                    has_package=bool(data["has_package"]), name=valid_project_name(data["name"]),
                    invalid_name=bool(data["invalid_name"]), deps=list(data["deps"])[:MAX_DEPS],
                    classifiers=list(data["classifiers"])[:MAX_CLASSIFIERS],
                )
                results[name] = FileResult(name, facts, None)
        except (ValueError, KeyError, TypeError):
            continue
    for filename, _ in todo:
        results.setdefault(filename, FileResult(filename, None, why))
    return results


def _limit_resources() -> None:
    try:
        import resource
    except ImportError:  # not on this platform: the wall-clock timeout still applies
        return
    for limit, value in ((resource.RLIMIT_AS, WORKER_MEMORY), (resource.RLIMIT_CPU, WORKER_CPU_SECONDS)):
        try:
            soft, hard = resource.getrlimit(limit)
            cap = value if hard == resource.RLIM_INFINITY else min(value, hard)
            resource.setrlimit(limit, (cap, hard))
        except (ValueError, OSError):
            pass


def _worker_main() -> None:
    _limit_resources()
    files = json.loads(sys.stdin.buffer.read())["files"]
    for filename, text in files:
        try:
            line: dict[str, Any] = {"file": filename, "facts": parse_file(filename, text).to_dict()}
        except Unreadable as exc:
            line = {"file": filename, "error": str(exc)}
        sys.stdout.write(json.dumps(line) + "\n")
        sys.stdout.flush()  # what is done survives a later file that runs out of time


if __name__ == "__main__":
    _worker_main()
