"""Semantic versions of documents: ``v1.2.3``, compared as numbers, the next one a patch bump by default."""

from __future__ import annotations

import re

from opsdesk.core.errors import InvalidInput

Semver = tuple[int, int, int]
FIRST: Semver = (1, 0, 0)
_PATTERN = re.compile(r"^v?(\d{1,6})\.(\d{1,6})\.(\d{1,6})$")


def parse(text: str) -> Semver:
    """``v1.2.3`` or ``1.2.3`` as a tuple; anything else is a clear 400."""
    match = _PATTERN.match(text.strip())
    if match is None:
        raise InvalidInput(f"'{text}' is not a version; use the form v1.2.3.", code="invalid_version")
    major, minor, patch = (int(part) for part in match.groups())
    return major, minor, patch


def render(version: Semver) -> str:
    return "v{}.{}.{}".format(*version)


def next_patch(latest: Semver | None) -> Semver:
    if latest is None:
        return FIRST
    return latest[0], latest[1], latest[2] + 1


def choose(latest: Semver | None, requested: str | None, key: str) -> Semver:
    """The version a new upload gets: the caller's (which must be greater than ``latest``) or the next patch."""
    if requested is None:
        return next_patch(latest)
    wanted = parse(requested)
    if latest is not None and wanted <= latest:
        raise InvalidInput(
            f"Version {render(wanted)} of '{key}' must be greater than its latest version {render(latest)}.",
            code="version_not_greater",
        )
    return wanted
