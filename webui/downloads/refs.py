"""Parse what a user types to name a hub repository: `org/repo`, `org/repo:branch`, or a hub URL.

The check is strict on purpose: a repo id or a revision ends up in URLs and (as a folder name) on disk.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from backends.errors import InvalidRequest

#: Hosts of the public hub; the host of a custom endpoint (HF_ENDPOINT) is accepted too.
HUB_HOSTS = ("huggingface.co", "www.huggingface.co", "hf.co")

# One part of a repo id, as huggingface_hub's validate_repo_id: letters, digits, "_", "-", "."; starts and ends
# with a letter, digit or "_"; at most 96 characters; no "--" or "..".
_NAME = r"[A-Za-z0-9_](?:[\w.-]{0,94}[A-Za-z0-9_])?"
REPO_ID_RE = re.compile(rf"(?a:{_NAME}/{_NAME})")
# A git branch/tag name or a commit: "/"-separated parts of letters, digits, "_", "-", "."; "refs/pr/N" included.
_REF_PART = r"[A-Za-z0-9_][\w.-]*"
REVISION_RE = re.compile(rf"(?a:{_REF_PART}(?:/{_REF_PART})*)")
MAX_REVISION_LENGTH = 128


@dataclass(frozen=True)
class RepoRef:
    """A model repository on the hub at a revision (a branch, tag or commit), maybe naming one file."""

    repo_id: str
    revision: str = "main"
    filename: str | None = None

    def __str__(self) -> str:
        return self.repo_id if self.revision == "main" else f"{self.repo_id}:{self.revision}"


def validate_repo_id(repo_id: str) -> str:
    """Return `repo_id` if it has the hub's `org/name` form, else raise InvalidRequest."""
    if not REPO_ID_RE.fullmatch(repo_id) or "--" in repo_id or ".." in repo_id:
        shown = repo_id if len(repo_id) <= 80 else repo_id[:77] + "..."
        raise InvalidRequest(
            f"{shown!r} is not a hub repository id: expected org/name, each part 1-96 letters, digits, '_', '-' or"
            " '.', not starting or ending with '-' or '.', no '--' or '..'"
        )
    return repo_id


def validate_revision(revision: str) -> str:
    """Return `revision` if it is a plain branch, tag or commit name, else raise InvalidRequest."""
    if (
        len(revision) > MAX_REVISION_LENGTH
        or not REVISION_RE.fullmatch(revision)
        or ".." in revision
        or revision.endswith((".lock", "."))
    ):
        shown = revision if len(revision) <= 80 else revision[:77] + "..."
        raise InvalidRequest(
            f"{shown!r} is not a branch, tag or commit name: use letters, digits, '_', '-', '.' and '/'"
            f" (no '..', at most {MAX_REVISION_LENGTH} characters)"
        )
    return revision


def parse_repo_ref(text: str, endpoint: str | None = None) -> RepoRef:
    """Parse `org/repo`, `org/repo:branch` or a hub URL (`.../org/repo[/tree|blob|resolve/REV[/FILE]]`).

    URLs may point at huggingface.co, hf.co, or the host of `endpoint` (default: the HF_ENDPOINT variable).
    """
    if endpoint is None:
        endpoint = os.environ.get("HF_ENDPOINT")
    text = text.strip()
    if not text:
        raise InvalidRequest("enter a repository: org/name, org/name:branch or a hub URL")
    if len(text) > 1000:
        raise InvalidRequest("that repository name is too long")
    if "://" in text:
        return _parse_url(text, endpoint)
    repo_id, sep, revision = text.partition(":")
    if sep and not revision:
        raise InvalidRequest(f"{text!r}: nothing after ':' (expected org/name:branch)")
    return RepoRef(validate_repo_id(repo_id), validate_revision(revision) if sep else "main")


def _parse_url(text: str, endpoint: str | None) -> RepoRef:
    parts = urlsplit(text)
    hosts = set(HUB_HOSTS)
    if endpoint:
        hosts.add(urlsplit(endpoint).netloc.lower())
    if parts.scheme not in ("http", "https") or parts.netloc.lower() not in hosts:
        raise InvalidRequest(f"{parts.netloc or text!r} is not the model hub (expected {', '.join(sorted(hosts))})")
    segments = [unquote(s) for s in parts.path.split("/") if s]
    if segments and segments[0] in ("datasets", "spaces"):
        raise InvalidRequest("only model repositories can be downloaded, not datasets or spaces")
    if len(segments) < 2:
        raise InvalidRequest(f"{text!r}: the URL does not name a repository (expected .../org/name)")
    repo_id = validate_repo_id("/".join(segments[:2]))
    rest = segments[2:]
    if not rest:
        return RepoRef(repo_id)
    if rest[0] not in ("tree", "blob", "resolve") or len(rest) < 2:
        raise InvalidRequest(f"{text!r}: expected .../tree/BRANCH, .../blob/BRANCH/FILE or .../resolve/BRANCH/FILE")
    revision = validate_revision(rest[1])
    filename = "/".join(rest[2:]) or None
    if rest[0] != "tree" and filename is None:
        raise InvalidRequest(f"{text!r}: the URL names no file after the branch")
    return RepoRef(repo_id, revision, filename if rest[0] != "tree" else None)
