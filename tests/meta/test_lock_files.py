"""Reproducible installs: the hashed locks match pyproject.toml, the Dockerfile installs from them by
hash on a pinned base image, and `tools/check_lock.py` (run by CI) fails as soon as they drift."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tools"))
import check_lock  # noqa: E402


@pytest.fixture
def project(tmp_path) -> Path:
    """A copy of pyproject.toml and the locks, to make drift in."""
    for name in ["pyproject.toml", *(spec.file for spec in check_lock.LOCKS)]:
        shutil.copy(ROOT / name, tmp_path / name)
    return tmp_path


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, old
    path.write_text(text.replace(old, new, 1))


def test_the_committed_locks_match_pyproject():
    assert check_lock.check() == []
    run = subprocess.run([sys.executable, str(ROOT / "tools" / "check_lock.py")], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr


def test_every_pin_is_hashed_and_every_dependency_is_pinned():
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    runtime = check_lock.parse_lock((ROOT / "requirements.lock").read_text())
    for dep in pyproject["project"]["dependencies"]:
        assert check_lock.canonicalize_name(Requirement(dep).name) in runtime, dep
    assert "greenlet" in runtime  # sqlalchemy[asyncio]'s extra is resolved for Linux too
    assert "pytest" not in runtime  # the image gets no test tools
    test = check_lock.parse_lock((ROOT / "requirements-test.lock").read_text())
    assert {"pytest", "ruff"} <= set(test)
    assert all(pin.hashes >= 1 for lock in (runtime, test) for pin in lock.values())


def test_upper_bounds_on_the_libraries_that_break_between_majors():
    deps = {Requirement(d).name.lower(): Requirement(d) for d in
            tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]}
    for name in ("aiohttp", "aiosqlite", "alembic", "sqlalchemy", "discord.py"):
        assert any(s.operator in ("<", "<=", "==", "~=") for s in deps[name].specifier), name


def test_a_tightened_specifier_makes_the_check_fail(project):
    edit(project / "pyproject.toml", '"aiohttp>=3.9,<4"', '"aiohttp>=99"')
    found = check_lock.check(project)
    assert any("aiohttp" in p and "does not satisfy aiohttp>=99" in p for p in found), found
    assert {p.split(":")[0] for p in found} == {"requirements.lock", "requirements-test.lock"}


def test_a_new_dependency_without_a_pin_makes_the_check_fail(project):
    edit(project / "pyproject.toml", '"alembic>=1.13,<2",', '"alembic>=1.13,<2",\n    "Brand_New.Lib>=1",')
    assert "requirements.lock: Brand_New.Lib>=1 has no pin" in check_lock.check(project)
    edit(project / "pyproject.toml", '"psutil>=5.9",', '"psutil>=5.9",\n    "pytest-xdist",')
    assert "requirements-test.lock: pytest-xdist has no pin" in check_lock.check(project)


def test_a_dropped_dependency_left_in_the_lock_makes_the_check_fail(project):
    edit(project / "pyproject.toml", '    "aiosqlite>=0.20,<0.23",\n', "")
    found = check_lock.check(project)
    assert any(p.startswith("requirements.lock: aiosqlite==") and "no longer asks" in p for p in found), found
    # a transitive pin (asked for by another package, not by pyproject) is not "stale"
    assert not any("yarl" in p for p in found)


def test_an_unhashed_pin_or_a_missing_lock_makes_the_check_fail(project):
    lock = project / "requirements.lock"
    lock.write_text(re.sub(r"(aiosqlite==[^ ]+) \\\n(\s+--hash=\S+ ?\\?\n)+", r"\1\n", lock.read_text()))
    assert any("aiosqlite" in p and "no hash" in p for p in check_lock.check(project))
    (project / "requirements-build.lock").unlink()
    assert "requirements-build.lock: missing" in check_lock.check(project)


def test_the_build_backend_is_locked_too(project):
    edit(project / "pyproject.toml", 'requires = ["setuptools>=68"]', 'requires = ["setuptools>=68", "wheel"]')
    assert "requirements-build.lock: wheel has no pin" in check_lock.check(project)


def test_ci_runs_the_check_and_the_dockerfile_installs_by_hash_on_a_pinned_image():
    ci = (ROOT / ".ci" / "run").read_text()
    assert "tools/check_lock.py" in ci
    dockerfile = (ROOT / "Dockerfile").read_text()
    froms = re.findall(r"^FROM\s+(\S+)", dockerfile, re.M)
    assert froms and all(re.fullmatch(r"python:3\.11\.\d+-slim@sha256:[0-9a-f]{64}", f) for f in froms), froms
    installs = [line for line in dockerfile.splitlines() if "pip install" in line]
    for lock in ("requirements-build.lock", "requirements.lock"):
        assert any(f"-r {lock}" in line and "--require-hashes" in line for line in installs), lock
    project_installs = [line for line in installs if line.rstrip().endswith(" .")]
    assert project_installs and all("--no-deps" in line for line in project_installs)
