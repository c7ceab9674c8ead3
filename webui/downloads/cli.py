"""The `download_model.py` command line: list a repo's files, or download with a progress line."""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from backends.errors import (
    AlreadyExists,
    AppError,
    AuthRequired,
    DiskFull,
    HubUnreachable,
    InvalidRequest,
    ModelNotFound,
)
from webui.downloads.hub import RepoListing, list_repo_files
from webui.downloads.manager import DownloadManager, DownloadProgress, human_size
from webui.downloads.refs import RepoRef, parse_repo_ref, validate_revision

#: Exit codes by error type (checked in order; the first match wins).
EXIT_CODES: tuple[tuple[type[AppError], int], ...] = (
    (AlreadyExists, 7),
    (InvalidRequest, 2),
    (ModelNotFound, 3),
    (AuthRequired, 4),
    (HubUnreachable, 5),
    (DiskFull, 6),
    (AppError, 1),
)
EXIT_INTERRUPTED = 130


def build_parser() -> argparse.ArgumentParser:
    """The `download_model.py` argument parser."""
    parser = argparse.ArgumentParser(
        prog="download_model.py",
        description="Download a model from the Hugging Face hub into models/ (resumable, verified).",
        epilog="Exit codes: 0 ok, 1 download failed, 2 bad input, 3 not found, 4 token needed, 5 hub unreachable,"
        " 6 disk full, 7 already downloaded, 130 interrupted (run again to resume).",
    )
    parser.add_argument("repo", help="org/name, org/name:branch, or a hub URL")
    parser.add_argument("--file", action="append", dest="files", metavar="NAME", help="a file to get (repeatable)")
    parser.add_argument("--list", action="store_true", help="list the repository's files and exit")
    parser.add_argument("--revision", help="branch, tag or commit (default: main, or the one in REPO)")
    parser.add_argument("--models-dir", type=Path, default=Path("models"), help="where models go (default: models)")
    parser.add_argument("--include-pickle", action="store_true", help="also get pickle weights (.bin/.pt)")
    parser.add_argument("--token-env", default="HF_TOKEN", metavar="VAR", help="read the token from $VAR (HF_TOKEN)")
    parser.add_argument("--ask-token", action="store_true", help="prompt for the token (not echoed)")
    parser.add_argument("--endpoint", help="hub address (default: $HF_ENDPOINT or https://huggingface.co)")
    return parser


def main(argv: Sequence[str] | None = None, out: TextIO | None = None) -> int:
    """Run the command line; return the exit code."""
    out = out or sys.stderr
    args = build_parser().parse_args(argv)
    try:
        ref = parse_repo_ref(args.repo, args.endpoint or os.environ.get("HF_ENDPOINT"))
        if args.revision:
            ref = RepoRef(ref.repo_id, validate_revision(args.revision), ref.filename)
        token = getpass.getpass("Hugging Face token: ") if args.ask_token else os.environ.get(args.token_env)
        if args.list:
            print_listing(list_repo_files(ref, token or None, args.endpoint), sys.stdout)
            return 0
        return download(ref, args, token or None, out)
    except AppError as exc:
        print(f"error: {exc}", file=out)
        return next(code for kind, code in EXIT_CODES if isinstance(exc, kind))


def download(ref: RepoRef, args: argparse.Namespace, token: str | None, out: TextIO) -> int:
    """Start the download and draw its progress until it ends (Ctrl-C cancels, keeping the partial file)."""
    manager = DownloadManager(args.models_dir, endpoint=args.endpoint)
    args.models_dir.mkdir(parents=True, exist_ok=True)
    progress = manager.start(ref, args.files, token, include_pickle=args.include_pickle)
    try:
        while not progress.finished:
            progress = manager.wait(progress.job_id, timeout=0.5)
            print("\r" + progress_line(progress), end="", file=out, flush=True)
    except KeyboardInterrupt:
        manager.cancel(progress.job_id)
        manager.wait(progress.job_id, timeout=60)
        print(f"\ncancelled; run the same command again to resume ({args.models_dir}/.downloads)", file=out)
        return EXIT_INTERRUPTED
    print(file=out)
    if progress.state == "done":
        print(f"saved {args.models_dir / progress.destination}", file=out)
        return 0
    print(f"error: {progress.error}", file=out)
    return 1


def progress_line(p: DownloadProgress) -> str:
    """`  42.1%  41.3 MB / 98.1 MB  12.0 MB/s  ETA 0:00:05  running file.gguf`."""
    speed = f"{human_size(p.speed_bytes_per_s)}/s" if p.speed_bytes_per_s else "-"
    eta = "-" if p.eta_s is None else f"{int(p.eta_s) // 3600}:{int(p.eta_s) % 3600 // 60:02d}:{int(p.eta_s) % 60:02d}"
    current = f" {p.current_file}" if p.current_file else ""
    line = f"{100 * p.fraction:5.1f}%  {human_size(p.done_bytes)} / {human_size(p.total_bytes)}  {speed}  ETA {eta}"
    return f"{line}  {p.state}{current}".ljust(79)


def print_listing(listing: RepoListing, out: TextIO) -> None:
    """The files with sizes and kinds, then the GGUF choices."""
    print(f"{listing.repo_id} @ {listing.revision} (commit {listing.commit[:12]})", file=out)
    for f in listing.files:
        print(f"  {human_size(f.size):>10}  {f.kind:<12} {f.name}", file=out)
    choices = listing.gguf_choices()
    if choices:
        print("GGUF choices (pass one with --file):", file=out)
        for c in choices:
            note = "" if c.complete else "  (incomplete)"
            print(f"  {human_size(c.size):>10}  {c.quantization or '?':<8} {c.files[0]}{note}", file=out)
