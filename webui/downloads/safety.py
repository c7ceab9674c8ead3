"""Check repository file names before anything touches the disk.

A hub repository is written by strangers: its file names are untrusted input. Every name is checked on its
own (no absolute paths, drive letters, backslashes, `..`, empty parts or control characters), the set of
names is checked for collisions (names equal after Unicode normalisation and case folding would land on
the same file on macOS/Windows), and every destination is resolved and must stay inside the models folder.
Any bad name refuses the whole download.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from pathlib import Path

from backends.errors import InvalidRequest

MAX_NAME_LENGTH = 1000
MAX_PART_LENGTH = 255
_DRIVE = re.compile(r"^[A-Za-z]:")


def check_repo_filename(name: str) -> str:
    """Return `name` if it is a safe relative `a/b/c` path, else raise InvalidRequest saying why."""
    reason = _unsafe_reason(name)
    if reason:
        shown = name if len(name) <= 80 else name[:77] + "..."
        raise InvalidRequest(f"refusing the download: the repository file name {shown!r} {reason}")
    return name


def _unsafe_reason(name: str) -> str | None:
    if not name:
        return "is empty"
    if len(name) > MAX_NAME_LENGTH:
        return "is too long"
    if any(ord(c) < 32 or ord(c) == 127 for c in name):
        return "contains control characters"
    if "\\" in name:
        return "contains a backslash"
    if name.startswith("/") or _DRIVE.match(name):
        return "is an absolute path"
    parts = name.split("/")
    if any(part == "" for part in parts):
        return "has an empty path part"
    if any(part in (".", "..") for part in parts):
        return "contains '.' or '..'"
    if any(len(part.encode()) > MAX_PART_LENGTH for part in parts):
        return "has a part longer than 255 bytes"
    return None


def collision_key(name: str) -> str:
    """The name as a case-insensitive, normalising file system sees it."""
    return unicodedata.normalize("NFC", name).casefold()


def check_no_collisions(names: Iterable[str]) -> None:
    """Raise InvalidRequest if two names would land on the same file (after normalisation and case folding)."""
    seen: dict[str, str] = {}
    for name in names:
        key = collision_key(name)
        if key in seen and seen[key] != name:
            raise InvalidRequest(
                f"refusing the download: the repository files {seen[key]!r} and {name!r} would be written to the"
                " same file on a case-insensitive file system"
            )
        if key in seen:
            raise InvalidRequest(f"refusing the download: the file {name!r} is listed twice")
        seen[key] = name


def resolve_inside(root: Path, relative: str) -> Path:
    """`root / relative`, resolved, after checking it stays strictly inside `root` (also through symlinks)."""
    check_repo_filename(relative)
    base = root.resolve()
    target = (base / relative).resolve()
    if target == base or not target.is_relative_to(base):
        raise InvalidRequest(f"refusing the download: {relative!r} would be written outside the models folder")
    return target
