"""Decide what a download takes from a repository and where each file lands in `models/`.

A GGUF choice (one file or a split set) lands as `models/<file name>`; anything else (a safetensors
repository, or files picked by name) lands in the folder `models/<org>_<repo>/`, keeping the repo's layout.
"""

from __future__ import annotations

from dataclasses import dataclass

from backends.errors import InvalidRequest
from webui.downloads.hub import RepoFile, RepoListing, group_gguf
from webui.downloads.safety import check_no_collisions, check_repo_filename


@dataclass(frozen=True)
class Target:
    """One repository file and its path relative to the download's destination root."""

    file: RepoFile
    relative: str


@dataclass(frozen=True)
class DownloadPlan:
    """What to fetch and where it goes: `mode` "gguf" (files straight into models/) or "folder"."""

    repo_id: str
    revision: str
    commit: str
    mode: str
    destination: str  # gguf: the (first) file's name in models/; folder: the folder's name in models/
    targets: tuple[Target, ...]

    @property
    def total_bytes(self) -> int:
        """Bytes of all files together."""
        return sum(t.file.size for t in self.targets)


def folder_name(repo_id: str) -> str:
    """The folder a whole repository lands in: `org/name` -> `org_name`."""
    return repo_id.replace("/", "_")


def plan_download(
    listing: RepoListing, filenames: list[str] | None = None, include_pickle: bool = False
) -> DownloadPlan:
    """Pick the files to fetch (default: the one GGUF, or the safetensors repo without pickle weights)."""
    for entry in listing.files:
        check_repo_filename(entry.name)
    if filenames:
        chosen = [listing.file(name) for name in dict.fromkeys(filenames)]
    else:
        chosen = _default_selection(listing, include_pickle)
    if not chosen:
        raise InvalidRequest(f"nothing to download from {listing.repo_id}")
    if all(f.kind in ("gguf", "gguf-split") for f in chosen):
        return _gguf_plan(listing, chosen)
    targets = tuple(Target(f, f.name) for f in sorted(chosen, key=lambda f: f.name))
    check_no_collisions(t.relative for t in targets)
    destination = folder_name(listing.repo_id)
    return DownloadPlan(listing.repo_id, listing.revision, listing.commit, "folder", destination, targets)


def _default_selection(listing: RepoListing, include_pickle: bool) -> list[RepoFile]:
    kinds = {f.kind for f in listing.files}
    if "safetensors" in kinds or (include_pickle and "pickle" in kinds):
        skip = {"gguf", "gguf-split"} | (set() if include_pickle else {"pickle"})
        return [f for f in listing.files if f.kind not in skip]
    choices = [c for c in group_gguf(listing.files) if c.complete]
    if len(choices) == 1:
        return [listing.file(name) for name in choices[0].files]
    if choices:
        shown = ", ".join(c.label for c in choices[:12]) + (", ..." if len(choices) > 12 else "")
        raise InvalidRequest(f"{listing.repo_id} has {len(choices)} GGUF files: pick one ({shown})")
    if "pickle" in kinds:
        raise InvalidRequest(
            f"{listing.repo_id} has only pickle weights (.bin/.pt), which can run code when loaded;"
            " ask for them explicitly (--include-pickle) if you trust the repository"
        )
    raise InvalidRequest(f"{listing.repo_id} has no GGUF or safetensors weights; name the files to download")


def _gguf_plan(listing: RepoListing, chosen: list[RepoFile]) -> DownloadPlan:
    names = {f.name for f in chosen}
    groups = [c for c in group_gguf(listing.files) if names & set(c.files)]
    if len(groups) != 1:
        raise InvalidRequest("pick one GGUF quantization per download (a split set counts as one)")
    group = groups[0]
    if not group.complete:
        raise InvalidRequest(f"the split GGUF set {group.label} is incomplete in {listing.repo_id}")
    files = [listing.file(name) for name in group.files]
    targets = tuple(Target(f, f.name.rsplit("/", 1)[-1]) for f in files)
    check_no_collisions(t.relative for t in targets)
    return DownloadPlan(listing.repo_id, listing.revision, listing.commit, "gguf", targets[0].relative, targets)
