"""List a hub repository's files (sizes, sha256) with huggingface_hub, and map hub errors to typed AppErrors."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import httpx
from huggingface_hub import HfApi, constants, get_token
from huggingface_hub.errors import (
    GatedRepoError,
    HfHubHTTPError,
    OfflineModeIsEnabled,
    RemoteEntryNotFoundError,
    RepositoryNotFoundError,
    RevisionNotFoundError,
)

from backends.errors import AuthRequired, HubUnreachable, ModelNotFound
from webui.downloads.refs import RepoRef

#: File kinds, as shown to users and used to pick what a download takes.
KINDS = ("gguf", "gguf-split", "safetensors", "pickle", "config", "other")
PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".ckpt", ".pkl", ".pickle")
CONFIG_SUFFIXES = (".json", ".model", ".txt", ".tiktoken", ".jinja", ".py")
SPLIT_RE = re.compile(r"-(\d{5})-of-(\d{5})\.gguf$", re.IGNORECASE)
QUANT_RE = re.compile(r"(?i)(?:^|[._-])((?:I?Q\d+(?:_[A-Z0-9]+)*)|BF16|F16|F32)(?=[._-]|$)")


def default_endpoint() -> str:
    """The hub's address: HF_ENDPOINT if set now, else what huggingface_hub read at import."""
    return (os.environ.get("HF_ENDPOINT") or constants.ENDPOINT).rstrip("/")


def resolve_token(token: str | None) -> str | None:
    """The token to send: the one given, else HF_TOKEN / the stored `hf auth login` token, else None."""
    return token or get_token() or None


def file_kind(name: str) -> str:
    """Classify a repository file by its name (see KINDS)."""
    lower = name.lower()
    if lower.endswith(".gguf"):
        return "gguf-split" if SPLIT_RE.search(lower) else "gguf"
    if lower.endswith(".safetensors"):
        return "safetensors"
    if lower.endswith(PICKLE_SUFFIXES):
        return "pickle"
    if lower.endswith(CONFIG_SUFFIXES) or "tokenizer" in lower.rsplit("/", 1)[-1]:
        return "config"
    return "other"


@dataclass(frozen=True)
class RepoFile:
    """One file of a repository: its path in the repo, size in bytes, and how to verify it."""

    name: str
    size: int
    sha256: str | None  # the LFS oid of large files
    blob_id: str | None  # the git blob sha1 (used to verify small, non-LFS files)
    kind: str


@dataclass(frozen=True)
class GgufChoice:
    """One GGUF quantization a user can pick: a single file or a complete split set."""

    label: str  # the file name, or the set's name without `-0000k-of-0000N`
    quantization: str | None  # e.g. Q4_K_M, read from the name
    files: tuple[str, ...]
    size: int
    complete: bool  # False when parts of a split set are missing from the repo


@dataclass(frozen=True)
class RepoListing:
    """A repository's files at one commit."""

    repo_id: str
    revision: str
    commit: str
    files: tuple[RepoFile, ...]
    gated: bool = False

    def file(self, name: str) -> RepoFile:
        """The file called `name`, or ModelNotFound."""
        for entry in self.files:
            if entry.name == name:
                return entry
        raise ModelNotFound(f"{self.repo_id} has no file {name!r} at {self.revision}")

    def gguf_choices(self) -> list[GgufChoice]:
        """GGUF quantizations to pick from, split sets grouped as one choice, sorted by name."""
        return group_gguf(self.files)


def group_gguf(files: tuple[RepoFile, ...] | list[RepoFile]) -> list[GgufChoice]:
    """Group GGUF files into choices: each single file, and each split set `-0000k-of-0000N.gguf` as one."""
    singles: list[GgufChoice] = []
    sets: dict[tuple[str, int], list[RepoFile]] = {}
    for entry in files:
        if entry.kind == "gguf":
            singles.append(GgufChoice(entry.name, quantization(entry.name), (entry.name,), entry.size, True))
        elif entry.kind == "gguf-split":
            match = SPLIT_RE.search(entry.name)
            assert match is not None
            sets.setdefault((entry.name[: match.start()], int(match.group(2))), []).append(entry)
    for (stem, count), parts in sets.items():
        parts.sort(key=lambda p: p.name)
        label = f"{stem}.gguf"
        complete = len({SPLIT_RE.search(p.name).group(1) for p in parts}) == count  # type: ignore[union-attr]
        names = tuple(p.name for p in parts)
        singles.append(GgufChoice(label, quantization(label), names, sum(p.size for p in parts), complete))
    return sorted(singles, key=lambda c: c.label.lower())


def quantization(name: str) -> str | None:
    """The quantization named in a GGUF file name (`...Q4_K_M.gguf` -> Q4_K_M), if any."""
    stem = name.rsplit("/", 1)[-1]
    stem = stem[: -len(".gguf")] if stem.lower().endswith(".gguf") else stem
    found = QUANT_RE.findall(stem)
    return found[-1].upper() if found else None


def list_repo_files(ref: RepoRef, token: str | None = None, endpoint: str | None = None) -> RepoListing:
    """Ask the hub for `ref`'s files with sizes and sha256 (one `model_info(files_metadata=True)` call)."""
    endpoint = endpoint or default_endpoint()
    api = HfApi(endpoint=endpoint, token=resolve_token(token) or False)
    with hub_errors(ref, endpoint):
        info = api.model_info(ref.repo_id, revision=ref.revision, files_metadata=True)
    files = []
    for sibling in info.siblings or []:
        lfs = sibling.lfs
        size = lfs.size if lfs is not None else sibling.size
        files.append(
            RepoFile(
                name=sibling.rfilename,
                size=int(size or 0),
                sha256=lfs.sha256 if lfs is not None else None,
                blob_id=sibling.blob_id,
                kind=file_kind(sibling.rfilename),
            )
        )
    return RepoListing(ref.repo_id, ref.revision, str(info.sha), tuple(files), bool(info.gated))


@contextmanager
def hub_errors(ref: RepoRef, endpoint: str, filename: str | None = None) -> Iterator[None]:
    """Turn huggingface_hub and network errors into AppErrors a user can act on (never showing the token)."""
    host = httpx.URL(endpoint).host or endpoint
    try:
        yield
    except GatedRepoError as exc:
        raise AuthRequired(
            f"{ref.repo_id} is gated: accept its terms on {host} and give a token (HF_TOKEN or the token field)"
        ) from exc
    except RevisionNotFoundError as exc:
        raise ModelNotFound(f"{ref.repo_id} has no branch, tag or commit {ref.revision!r}") from exc
    except RemoteEntryNotFoundError as exc:
        raise ModelNotFound(f"{ref.repo_id} has no file {filename!r} at {ref.revision}") from exc
    except RepositoryNotFoundError as exc:
        raise ModelNotFound(
            f"repository {ref.repo_id} not found on {host} (check the name; a private repo needs a token)"
        ) from exc
    except HfHubHTTPError as exc:
        status = exc.response.status_code if exc.response is not None else None
        if status in (401, 403):
            raise AuthRequired(
                f"{ref.repo_id} needs access: the hub answered {status}; give a token that may read it"
                " (HF_TOKEN or the token field)"
            ) from exc
        if status == 404:
            raise ModelNotFound(f"{ref.repo_id}: not found on {host} ({filename or 'repository'})") from exc
        raise HubUnreachable(f"the hub ({host}) answered HTTP {status} for {ref.repo_id}; try again later") from exc
    except OfflineModeIsEnabled as exc:
        raise HubUnreachable("huggingface_hub is in offline mode (HF_HUB_OFFLINE is set)") from exc
    except httpx.TransportError as exc:
        raise HubUnreachable(f"cannot reach the hub at {host} ({type(exc).__name__}); are you online?") from exc
