"""Check (or rewrite) the hashed lock files against pyproject.toml.

    python tools/check_lock.py            # exit 1, one line per problem, when a lock is stale (CI runs this)
    python tools/check_lock.py --write    # regenerate every lock with uv (`pip install uv` first)

The Dockerfile installs `requirements-build.lock` (the build backend) and `requirements.lock` (the
bot's dependencies) with `pip install --require-hashes`, then the project itself with `--no-deps`;
`requirements-test.lock` adds the `test` extra for a reproducible development environment. All are
resolved for CPython 3.11 on Linux, the image's interpreter, with the hashes of every file of each
pinned release (so any Linux architecture installs from them).

A lock is stale when a requirement of pyproject.toml has no pin, a pin no longer satisfies its
specifier, a pin recorded as coming from pyproject.toml is no longer asked for, or a pin has no hash.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

ROOT = Path(__file__).resolve().parents[1]
PYTHON_VERSION = "3.11"
# The environment the locks are resolved for: markers of pyproject's requirements are evaluated in it.
ENVIRONMENT = {
    "python_version": PYTHON_VERSION, "python_full_version": f"{PYTHON_VERSION}.0", "sys_platform": "linux",
    "platform_system": "Linux", "os_name": "posix", "platform_machine": "x86_64",
    "implementation_name": "cpython", "platform_python_implementation": "CPython",
}
PROJECT_VIA = "(pyproject.toml)"  # how uv annotates a pin asked for by pyproject.toml


@dataclass(frozen=True)
class LockSpec:
    file: str
    extras: tuple[str, ...] = ()
    build: bool = False  # locks [build-system].requires instead of the project's dependencies


LOCKS = (
    LockSpec("requirements.lock", extras=("postgres",)),  # the image runs on SQLite or PostgreSQL
    LockSpec("requirements-test.lock", extras=("test",)),
    LockSpec("requirements-build.lock", build=True),
)


@dataclass
class Pin:
    version: str
    hashes: int = 0
    from_project: bool = False
    via: list[str] = field(default_factory=list)


_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?==([^\s;\\]+)")


def parse_lock(text: str) -> dict[str, Pin]:
    """name (canonical) -> Pin, from a `uv pip compile`/`pip-compile` output with hashes and `# via` notes."""
    pins: dict[str, Pin] = {}
    current: Pin | None = None
    for raw in text.splitlines():
        line = raw.strip()
        match = _PIN.match(raw)
        if match:
            current = pins[canonicalize_name(match[1])] = Pin(match[2])
            current.hashes += line.count("--hash=")
        elif current is not None and line.startswith("--hash="):
            current.hashes += 1
        elif current is not None and line.startswith("#"):
            note = line.lstrip("#").strip().removeprefix("via").strip()
            if note:
                current.via.append(note)
                current.from_project |= note.endswith(PROJECT_VIA)
    return pins


def wanted(pyproject: dict, spec: LockSpec) -> list[Requirement]:
    if spec.build:
        strings = pyproject.get("build-system", {}).get("requires", [])
    else:
        project = pyproject["project"]
        strings = list(project.get("dependencies", []))
        for extra in spec.extras:
            strings += project.get("optional-dependencies", {}).get(extra, [])
    out = []
    for s in strings:
        req = Requirement(s)
        if req.marker is None or req.marker.evaluate(ENVIRONMENT | {"extra": ""}):
            out.append(req)
    return out


def problems(pyproject: dict, spec: LockSpec, lock_text: str | None) -> list[str]:
    if lock_text is None:
        return [f"{spec.file}: missing"]
    try:
        requirements = wanted(pyproject, spec)
    except InvalidRequirement as exc:
        return [f"pyproject.toml: {exc}"]
    pins = parse_lock(lock_text)
    found: list[str] = []
    names = set()
    for req in requirements:
        name = canonicalize_name(req.name)
        names.add(name)
        pin = pins.get(name)
        if pin is None:
            found.append(f"{spec.file}: {req} has no pin")
            continue
        try:
            ok = req.specifier.contains(Version(pin.version), prereleases=True)
        except InvalidVersion:
            ok = False
        if not ok:
            found.append(f"{spec.file}: {name}=={pin.version} does not satisfy {req}")
    for name, pin in sorted(pins.items()):
        if pin.from_project and name not in names:
            found.append(f"{spec.file}: {name}=={pin.version} is pinned for pyproject.toml, which no longer asks")
        if pin.hashes == 0:
            found.append(f"{spec.file}: {name}=={pin.version} has no hash")
    return found


def check(root: Path = ROOT) -> list[str]:
    pyproject = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))
    found = []
    for spec in LOCKS:
        path = root / spec.file
        found += problems(pyproject, spec, path.read_text(encoding="utf-8") if path.exists() else None)
    return found


def compile_command(spec: LockSpec, uv: str) -> tuple[list[str], str | None]:
    """The uv command that writes `spec.file`, and what to feed it on stdin."""
    args = [uv, "pip", "compile", "--quiet", "--generate-hashes", "--python-version", PYTHON_VERSION,
            "--python-platform", "linux", "--custom-compile-command", "python tools/check_lock.py --write",
            "-o", spec.file]
    if spec.build:
        pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
        return [*args, "-"], "\n".join(pyproject["build-system"]["requires"]) + "\n"
    for extra in spec.extras:
        args += ["--extra", extra]
    return [*args, "pyproject.toml"], None


def write(upgrade: bool) -> int:
    uv = shutil.which("uv") or shutil.which("uv", path=str(Path(sys.executable).parent))
    if uv is None:
        print("error: uv is not installed (pip install uv)", file=sys.stderr)
        return 2
    for spec in LOCKS:
        args, stdin = compile_command(spec, uv)
        if upgrade:
            args.insert(3, "--upgrade")
        subprocess.run(args, cwd=ROOT, input=stdin, text=True, check=True)  # noqa: S603 - our own argv
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--write", action="store_true", help="regenerate the locks with uv (keeps current pins)")
    parser.add_argument("--upgrade", action="store_true", help="with --write: newest releases allowed")
    args = parser.parse_args(argv)
    if args.write:
        return write(args.upgrade)
    found = check()
    for line in found:
        print(f"stale lock: {line}", file=sys.stderr)
    if found:
        print("run `python tools/check_lock.py --write` (needs `pip install uv`) and commit the locks",
              file=sys.stderr)
        return 1
    print(f"locks match pyproject.toml: {', '.join(spec.file for spec in LOCKS)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
