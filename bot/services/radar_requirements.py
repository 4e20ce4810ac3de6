"""Pallets requirements of a release, read from PyPI's `requires_dist` with `packaging`, bounded.

`requires_dist` is whatever the project's uploader wrote: every string is cut off by count and length
before it is parsed, only requirements on a core Pallets project are parsed at all, a parser failure
(including a RecursionError on deeply nested markers) drops that string, and nothing here is rendered:
the cog escapes what it shows (bot/markdown.py).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from packaging.markers import InvalidMarker, UndefinedComparison, UndefinedEnvironmentName
from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import InvalidVersion, Version

from bot.services.package_files import requirement_name

MAX_REQUIREMENTS = 300  # strings read from one release's requires_dist; the rest are ignored
MAX_REQUIREMENT_CHARS = 500  # a longer string is dropped unparsed (real ones are < 100)
MAX_KEPT = 20  # Pallets requirements kept per release
MAX_SPEC_CHARS = 200


@dataclass(frozen=True)
class PalletsRequirement:
    name: str  # normalised core project name ("flask")
    spec: str  # the specifier set as packaging writes it (">=2.3,<3.1"); "" for any version
    extra: bool  # only with an extra ("flask-foo[async]")

    def admits(self, version: str) -> bool:
        """Whether this requirement allows `version` (pre-releases judged as releases)."""
        try:
            return SpecifierSet(self.spec).contains(Version(version), prereleases=True)
        except (InvalidSpecifier, InvalidVersion):
            return True  # unreadable: never claimed as a cap

    def to_dict(self) -> dict[str, object]:
        return {"name": self.name, "spec": self.spec, "extra": self.extra}


def pallets_requirements(requires_dist: object, core: frozenset[str]) -> tuple[list[PalletsRequirement], int]:
    """The requirements on `core` projects, and how many strings were dropped (too long, unreadable)."""
    kept: list[PalletsRequirement] = []
    dropped = 0
    if not isinstance(requires_dist, list | tuple):
        return kept, 0
    for raw in requires_dist[:MAX_REQUIREMENTS]:
        if not isinstance(raw, str) or len(raw) > MAX_REQUIREMENT_CHARS:
            dropped += 1
            continue
        if requirement_name(raw) not in core:  # cheap prefix check: other dependencies are never parsed
            continue
        try:
            req = Requirement(raw)
        except (InvalidRequirement, RecursionError, ValueError):
            dropped += 1
            continue
        extra = False
        if req.marker is not None:
            try:
                applies = req.marker.evaluate({"extra": ""})
            except (InvalidMarker, UndefinedComparison, UndefinedEnvironmentName, RecursionError, ValueError):
                dropped += 1
                continue
            if not applies:
                if "extra" not in str(req.marker):
                    continue  # for an old Python or another platform: not a cap today
                extra = True
        spec = str(req.specifier)
        if len(spec) > MAX_SPEC_CHARS:
            dropped += 1
            continue
        name = requirement_name(req.name) or req.name.lower()
        if len(kept) < MAX_KEPT:
            kept.append(PalletsRequirement(name=name, spec=spec, extra=extra))
    return kept, dropped


def load_requirements(text: str) -> list[PalletsRequirement]:
    try:
        items = json.loads(text or "[]")
    except ValueError:
        return []
    return [
        PalletsRequirement(str(i["name"]), str(i.get("spec") or ""), bool(i.get("extra")))
        for i in items[:MAX_KEPT]
        if isinstance(i, dict) and i.get("name")
    ]


def dump_requirements(reqs: list[PalletsRequirement]) -> str:
    return json.dumps([r.to_dict() for r in reqs])


def newer(a: str, b: str | None) -> bool:
    """Whether version `a` is later than `b` (None: nothing seen yet)."""
    if b is None:
        return True
    try:
        return Version(a) > Version(b)
    except InvalidVersion:
        return a != b


def is_prerelease(version: str) -> bool:
    try:
        v = Version(version)
    except InvalidVersion:
        return True  # unreadable versions are never announced
    return v.is_prerelease or v.is_devrelease
