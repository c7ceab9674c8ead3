"""Fetch one file into a staging path with huggingface_hub's resumable `http_get`, then verify it.

`http_get` sends `Range: bytes=N-` when the partial file already holds N bytes, and when a server answers
200 instead of 206 it truncates the file and starts from zero (it never appends a full body to a partial one).
Its progress bar is replaced by `ByteCounter`, which reports bytes and raises `DownloadCancelled` on cancel.
"""

from __future__ import annotations

import errno
import hashlib
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from huggingface_hub import hf_hub_url
from huggingface_hub.errors import HfHubHTTPError
from huggingface_hub.file_download import http_get
from huggingface_hub.utils import build_hf_headers

from backends.errors import ChecksumMismatch, DiskFull, DownloadError
from webui.downloads.hub import RepoFile

HASH_BLOCK = 8 * 1024 * 1024


class DownloadCancelled(Exception):
    """Raised inside a transfer when its job was cancelled."""


class ByteCounter:
    """A stand-in for http_get's tqdm bar: forwards the file's byte count, stops the transfer on cancel."""

    def __init__(self, report: Callable[[int], None], cancelled: threading.Event, initial: int = 0, **_: Any) -> None:
        self.n = initial
        self._report = report
        self._cancelled = cancelled
        report(self.n)

    def update(self, n: int = 1) -> None:
        """Called by http_get before it writes a chunk of `n` bytes (negative when it restarts from zero)."""
        if self._cancelled.is_set():
            raise DownloadCancelled
        self.n += n
        self._report(self.n)

    def close(self) -> None:
        """Nothing to close."""

    def __enter__(self) -> ByteCounter:
        return self

    def __exit__(self, *exc: object) -> None:
        return None


def fetch_file(
    repo_id: str,
    commit: str,
    file: RepoFile,
    partial: Path,
    *,
    endpoint: str,
    token: str | None,
    report: Callable[[int], None],
    cancelled: threading.Event,
) -> None:
    """Download `file` at `commit` into `partial`, resuming from the bytes already there."""
    url = hf_hub_url(repo_id, file.name, revision=commit, endpoint=endpoint)
    headers = build_hf_headers(token=token or False, library_name="jielong")
    headers["Accept-Encoding"] = "identity"  # byte ranges of the stored file, never of a compressed body
    partial.parent.mkdir(parents=True, exist_ok=True)
    with partial.open("ab") as out:
        out.seek(0, os.SEEK_END)
        resume = out.tell()
        if resume > file.size:
            out.seek(0)
            out.truncate()
            resume = 0

        def counter(**kwargs: Any) -> ByteCounter:
            return ByteCounter(report, cancelled, **kwargs)

        try:
            http_get(
                url,
                out,
                resume_size=resume,
                headers=headers,
                expected_size=file.size,
                displayed_filename=file.name,
                tqdm_class=counter,  # type: ignore[arg-type]
            )
        except (DownloadCancelled, HfHubHTTPError):
            raise
        except OSError as exc:
            out.flush()
            if exc.errno == errno.ENOSPC:
                raise DiskFull(f"the disk filled up while downloading {file.name}; free some space and resume") from exc
            if out.tell() > file.size:
                out.seek(0)
                out.truncate()
            raise DownloadError(
                f"{file.name}: the transfer broke off ({type(exc).__name__}); start it again to resume"
            ) from exc
    report(partial.stat().st_size)


def verify_file(path: Path, file: RepoFile, cancelled: threading.Event) -> None:
    """Check `path`'s size and sha256 (or git blob id); on a mismatch remove it and raise ChecksumMismatch."""
    size = path.stat().st_size
    problem = None
    if size != file.size:
        problem = f"size {size} bytes instead of {file.size}"
    elif file.sha256 or file.blob_id:
        digest = hashlib.sha256() if file.sha256 else hashlib.sha1(b"blob %d\0" % size)
        with path.open("rb") as handle:
            while block := handle.read(HASH_BLOCK):
                if cancelled.is_set():
                    raise DownloadCancelled
                digest.update(block)
        expected = (file.sha256 or file.blob_id or "").lower()
        if digest.hexdigest() != expected:
            kind = "sha256" if file.sha256 else "git blob id"
            problem = f"{kind} {digest.hexdigest()} instead of {expected}"
    if problem:
        path.unlink(missing_ok=True)
        raise ChecksumMismatch(f"{file.name} is corrupt ({problem}); the bad file was removed, try again")
