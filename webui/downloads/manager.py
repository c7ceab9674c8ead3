"""Run downloads in background threads: staging, resume, verification, atomic install, progress, cancel."""

from __future__ import annotations

import contextlib
import errno
import hashlib
import logging
import re
import shutil
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass, field, replace
from pathlib import Path

from filelock import FileLock, Timeout
from huggingface_hub import get_hf_file_metadata, hf_hub_url

from backends.errors import AlreadyExists, AppError, DiskFull, DownloadError, InvalidRequest
from webui.downloads.hub import default_endpoint, hub_errors, list_repo_files, resolve_token
from webui.downloads.plan import DownloadPlan, Target, plan_download
from webui.downloads.refs import RepoRef
from webui.downloads.safety import collision_key, resolve_inside
from webui.downloads.transfer import DownloadCancelled, fetch_file, verify_file

logger = logging.getLogger(__name__)

STATES = ("queued", "running", "verifying", "done", "failed", "cancelled")
FINISHED = ("done", "failed", "cancelled")
STAGING = ".downloads"
COMMIT_RE = re.compile(r"[0-9a-f]{40}")
SPEED_WINDOW_S = 5.0


@dataclass(frozen=True)
class DownloadProgress:
    """A snapshot of one download, safe to hand to a UI (no token in it)."""

    job_id: str
    repo_id: str
    revision: str
    commit: str
    files: tuple[str, ...]
    destination: str  # the file or folder name inside models/
    total_bytes: int
    done_bytes: int
    speed_bytes_per_s: float | None
    eta_s: float | None
    state: str
    error: str | None = None
    error_type: str | None = None  # the AppError class name, to choose behaviour by type
    current_file: str | None = None

    @property
    def fraction(self) -> float:
        """Share of the bytes done, 0..1."""
        return self.done_bytes / self.total_bytes if self.total_bytes else (1.0 if self.state == "done" else 0.0)

    @property
    def finished(self) -> bool:
        """True once the job is done, failed or cancelled."""
        return self.state in FINISHED


@dataclass
class _Job:
    plan: DownloadPlan
    staging: Path
    lock: FileLock
    dest_key: str
    token: str | None = field(repr=False)
    progress: DownloadProgress
    cancelled: threading.Event = field(default_factory=threading.Event)
    file_bytes: dict[str, int] = field(default_factory=dict)
    samples: deque = field(default_factory=deque)
    thread: threading.Thread | None = None


class DownloadManager:
    """Downloads from the hub into `models_dir`; one background thread per job."""

    def __init__(self, models_dir: Path, endpoint: str | None = None, min_free_bytes: int = 0) -> None:
        self.models_dir = Path(models_dir)
        self.endpoint = (endpoint or default_endpoint()).rstrip("/")
        self.min_free_bytes = min_free_bytes
        self._lock = threading.Lock()
        self._jobs: dict[str, _Job] = {}
        self._active: dict[str, str] = {}  # destination key -> job id

    def start(
        self,
        ref: RepoRef,
        filenames: list[str] | None = None,
        token: str | None = None,
        include_pickle: bool = False,
    ) -> DownloadProgress:
        """Check the request (names, space, access, what is already there), then download in the background."""
        token = resolve_token(token)
        listing = list_repo_files(ref, token, self.endpoint)
        if not COMMIT_RE.fullmatch(listing.commit):
            raise DownloadError(f"the hub gave {ref.repo_id} an invalid commit id; refusing to download")
        if not filenames and ref.filename:
            filenames = [ref.filename]
        plan = plan_download(listing, filenames, include_pickle)
        finals = [self._final_path(plan, target) for target in plan.targets]  # each stays inside models/
        if self._destination(plan).exists() or any(final.exists() for final in finals):
            raise AlreadyExists(f"{plan.destination} is already in the models folder; delete it to download again")
        self._check_access(plan, token)
        staging = self._staging_dir(plan)
        needed = sum(t.file.size - _staged_size(staging, t) for t in plan.targets)
        self._check_space(needed)
        dest_key = collision_key(plan.destination)
        lock = FileLock(str(staging) + ".lock", thread_local=False)
        job_id = uuid.uuid4().hex[:12]
        with self._lock:
            if dest_key in self._active:
                raise AlreadyExists(f"{plan.destination} is already being downloaded")
            try:
                self.models_dir.joinpath(STAGING).mkdir(parents=True, exist_ok=True)
                lock.acquire(timeout=0)
            except Timeout as exc:
                raise AlreadyExists(f"{plan.destination} is being downloaded by another process") from exc
            self._active[dest_key] = job_id
            progress = DownloadProgress(
                job_id, plan.repo_id, plan.revision, plan.commit, tuple(t.file.name for t in plan.targets),
                plan.destination, plan.total_bytes, 0, None, None, "queued",
            )  # fmt: skip
            job = _Job(plan, staging, lock, dest_key, token, progress)
            self._jobs[job_id] = job
        logger.info("download %s: %s@%s -> models/%s", job_id, plan.repo_id, plan.commit[:8], plan.destination)
        job.thread = threading.Thread(target=self._run, args=(job,), name=f"download-{job_id}", daemon=True)
        job.thread.start()
        return job.progress

    def jobs(self) -> list[DownloadProgress]:
        """Every job of this manager, newest first."""
        with self._lock:
            return [job.progress for job in reversed(self._jobs.values())]

    def get(self, job_id: str) -> DownloadProgress:
        """The job's current progress (InvalidRequest for an unknown id)."""
        return self._job(job_id).progress

    def cancel(self, job_id: str) -> DownloadProgress:
        """Ask the job to stop; it stops at the next chunk (<= 10 MB) and keeps its partial file to resume."""
        job = self._job(job_id)
        job.cancelled.set()
        return job.progress

    def wait(self, job_id: str, timeout: float | None = None) -> DownloadProgress:
        """Block until the job finishes or `timeout` seconds pass; return its progress."""
        job = self._job(job_id)
        if job.thread is not None:
            job.thread.join(timeout)
        return job.progress

    def forget_finished(self) -> None:
        """Drop finished jobs from `jobs()`."""
        with self._lock:
            self._jobs = {k: j for k, j in self._jobs.items() if not j.progress.finished}

    def close(self, timeout: float = 30.0) -> None:
        """Cancel every running job and wait for the threads (partial files stay, resumable)."""
        with self._lock:
            jobs = list(self._jobs.values())
        for job in jobs:
            job.cancelled.set()
        for job in jobs:
            if job.thread is not None:
                job.thread.join(timeout)

    # -- internals -------------------------------------------------------------------------------------------

    def _job(self, job_id: str) -> _Job:
        with self._lock:
            job = self._jobs.get(job_id)
        if job is None:
            raise InvalidRequest(f"no download with id {job_id!r}")
        return job

    def _destination(self, plan: DownloadPlan) -> Path:
        return resolve_inside(self.models_dir, plan.destination)

    def _final_path(self, plan: DownloadPlan, target: Target) -> Path:
        if plan.mode == "gguf":
            return resolve_inside(self.models_dir, target.relative)
        return resolve_inside(self.models_dir, f"{plan.destination}/{target.relative}")

    def _staging_dir(self, plan: DownloadPlan) -> Path:
        digest = hashlib.sha256(f"{plan.repo_id}\0{plan.commit}\0{plan.destination}".encode()).hexdigest()[:16]
        return self.models_dir / STAGING / f"{plan.repo_id.replace('/', '--')[:100]}--{digest}"

    def _check_access(self, plan: DownloadPlan, token: str | None) -> None:
        first = plan.targets[0].file.name
        url = hf_hub_url(plan.repo_id, first, revision=plan.commit, endpoint=self.endpoint)
        with hub_errors(RepoRef(plan.repo_id, plan.revision), self.endpoint, first):
            get_hf_file_metadata(url, token=token or False, endpoint=self.endpoint)

    def _check_space(self, needed: int) -> None:
        free = shutil.disk_usage(self.models_dir if self.models_dir.exists() else self.models_dir.parent).free
        if needed + self.min_free_bytes > free:
            raise DiskFull(
                f"not enough disk space: the download needs {human_size(needed)}"
                + (f" (+{human_size(self.min_free_bytes)} kept free)" if self.min_free_bytes else "")
                + f" but {self.models_dir} has {human_size(free)} free"
            )

    def _update(self, job: _Job, **changes: object) -> None:
        with self._lock:
            job.progress = replace(job.progress, **changes)  # type: ignore[arg-type]

    def _report(self, job: _Job, name: str, file_done: int) -> None:
        now = time.monotonic()
        with self._lock:
            job.file_bytes[name] = file_done
            done = sum(job.file_bytes.values())
            job.samples.append((now, done))
            while len(job.samples) > 2 and now - job.samples[0][0] > SPEED_WINDOW_S:
                job.samples.popleft()
            first_t, first_done = job.samples[0]
            speed = (done - first_done) / (now - first_t) if now - first_t > 0.2 else job.progress.speed_bytes_per_s
            remaining = job.progress.total_bytes - done
            eta = remaining / speed if speed and speed > 0 else None
            job.progress = replace(job.progress, done_bytes=done, speed_bytes_per_s=speed, eta_s=eta)

    def _run(self, job: _Job) -> None:
        plan = job.plan
        try:
            for target in plan.targets:
                self._fetch_and_verify(job, target)
            self._update(job, state="verifying", current_file=None)
            self._install(job)
            self._update(job, state="done", speed_bytes_per_s=None, eta_s=0.0)
            logger.info("download %s: done", job.progress.job_id)
        except DownloadCancelled:
            self._update(job, state="cancelled", current_file=None, speed_bytes_per_s=None, eta_s=None)
            logger.info("download %s: cancelled (partial files kept to resume)", job.progress.job_id)
        except AppError as exc:
            self._fail(job, str(exc), type(exc).__name__)
        except OSError as exc:  # a local file system problem
            if exc.errno == errno.ENOSPC:
                self._fail(job, "the disk is full; free some space and start again to resume", "DiskFull")
            else:
                self._fail(job, f"cannot write the download: {exc.strerror or type(exc).__name__}", "DownloadError")
        except Exception as exc:
            logger.exception("download %s: unexpected error", job.progress.job_id)
            self._fail(job, f"unexpected error: {type(exc).__name__}", "DownloadError")
        finally:
            job.lock.release()
            _tidy(job.staging, Path(job.lock.lock_file))
            with self._lock:
                self._active.pop(job.dest_key, None)

    def _fail(self, job: _Job, message: str, kind: str) -> None:
        logger.warning("download %s failed: %s", job.progress.job_id, message)
        self._update(job, state="failed", error=message, error_type=kind, speed_bytes_per_s=None, eta_s=None)

    def _fetch_and_verify(self, job: _Job, target: Target) -> None:
        name = target.file.name
        complete = job.staging / "complete" / target.relative
        partial = job.staging / "partial" / target.relative
        if job.cancelled.is_set():
            raise DownloadCancelled
        if complete.exists():  # verified by an earlier run; check again, it is cheap next to a download
            try:
                verify_file(complete, target.file, job.cancelled)
                self._report(job, name, target.file.size)
                return
            except AppError:
                pass
        self._update(job, state="running", current_file=name)
        with hub_errors(RepoRef(job.plan.repo_id, job.plan.revision), self.endpoint, name):
            fetch_file(
                job.plan.repo_id, job.plan.commit, target.file, partial,
                endpoint=self.endpoint, token=job.token,
                report=lambda n: self._report(job, name, n), cancelled=job.cancelled,
            )  # fmt: skip
        self._update(job, state="verifying")
        try:
            verify_file(partial, target.file, job.cancelled)
        except AppError:
            self._report(job, name, 0)
            raise
        complete.parent.mkdir(parents=True, exist_ok=True)
        partial.replace(complete)

    def _install(self, job: _Job) -> None:
        plan = job.plan
        if plan.mode == "folder":
            final = self._destination(plan)
            if final.exists():
                raise AlreadyExists(f"{plan.destination} appeared in the models folder meanwhile; not overwritten")
            (job.staging / "complete").rename(final)
        else:
            finals = [(job.staging / "complete" / t.relative, self._final_path(plan, t)) for t in plan.targets]
            if any(final.exists() for _, final in finals):
                raise AlreadyExists(f"{plan.destination} appeared in the models folder meanwhile; not overwritten")
            for staged, final in reversed(finals):  # the first part of a split set appears last
                staged.replace(final)
        shutil.rmtree(job.staging, ignore_errors=True)


def _tidy(staging: Path, lock_file: Path) -> None:
    """Remove the lock file and staging folders that hold no file (a partial file to resume stays)."""
    lock_file.unlink(missing_ok=True)
    if staging.is_dir() and not any(p.is_file() for p in staging.rglob("*")):
        shutil.rmtree(staging, ignore_errors=True)
    with contextlib.suppress(OSError):
        staging.parent.rmdir()  # only when no other download left anything there


def _staged_size(staging: Path, target: Target) -> int:
    for sub in ("complete", "partial"):
        path = staging / sub / target.relative
        if path.is_file():
            return min(path.stat().st_size, target.file.size)
    return 0


def human_size(n: float | None) -> str:
    """Bytes as B/KB/MB/GB/TB (1024-based)."""
    value = float(n or 0)
    for unit in ("B", "KB", "MB", "GB"):
        if abs(value) < 1024:
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} TB"
