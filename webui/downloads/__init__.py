"""Download models from the Hugging Face hub into `models/`, safely and resumably.

Built on `huggingface_hub` (`HfApi.model_info` for the listing, `get_hf_file_metadata` to check access,
`http_get` for the resumable transfer); nothing here speaks HTTP by hand. The API, for a UI or the CLI:

    from webui.downloads import DownloadManager, parse_repo_ref, list_repo_files

    ref = parse_repo_ref("org/repo:main")          # or "org/repo", or a hub URL; InvalidRequest if malformed
    listing = list_repo_files(ref, token=None)     # RepoListing: files (name, size, sha256, kind), commit
    choices = listing.gguf_choices()               # GgufChoice per quantization (split sets grouped)
    manager = DownloadManager(Path("models"))      # one per app; endpoint defaults to HF_ENDPOINT / the hub
    progress = manager.start(ref, ["x.Q4_K_M.gguf"], token=None)   # raises AppError for what is wrong up front
    manager.get(progress.job_id)                   # DownloadProgress snapshot: bytes, speed, ETA, state, error
    manager.cancel(progress.job_id); manager.wait(progress.job_id, timeout=10); manager.close()

`start()` checks everything it can before returning: the repo and revision exist (ModelNotFound), access
(AuthRequired for gated/private repos), every file name is safe and stays inside `models/` (InvalidRequest),
the destination is not already there (AlreadyExists) nor being downloaded, and the free space (DiskFull).
Then a thread downloads each file into `models/.downloads/<repo>--<hash of repo, commit, destination>/partial/`,
resuming what an earlier run (even of another process) left there, verifies size and sha256 (or the git blob id
of small files; a mismatch removes the file: ChecksumMismatch), and only then moves the result into place:
one GGUF or a split set as `models/<file name>`, other repos as the folder `models/<org>_<repo>/` (one rename).
Downloads are pinned to the commit the listing saw. `cancel()` takes effect at the next chunk
huggingface_hub writes (10 MB) and keeps the partial file; starting the same download again resumes it.
The token comes from the caller or HF_TOKEN and is never logged, shown, or put in progress or error messages.
A failed job's `error` is a user-readable message and `error_type` the AppError class name (choose
behaviour by it, not by the text).
"""

from webui.downloads.hub import GgufChoice, RepoFile, RepoListing, list_repo_files
from webui.downloads.manager import STATES, DownloadManager, DownloadProgress
from webui.downloads.refs import RepoRef, parse_repo_ref

__all__ = [
    "STATES",
    "DownloadManager",
    "DownloadProgress",
    "GgufChoice",
    "RepoFile",
    "RepoListing",
    "RepoRef",
    "list_repo_files",
    "parse_repo_ref",
]
