"""A loopback stand-in of the Hugging Face hub, for the real huggingface_hub client (HF_ENDPOINT / endpoint=).

It serves repositories the test builds, with the endpoints and headers huggingface_hub 1.33 reads:

- `GET /api/models/{repo}` and `/api/models/{repo}/revision/{rev}`: `id`, `sha`, `gated`, and `siblings` with
  `rfilename`, `size`, `blobId` and, for LFS files, `lfs: {sha256, size, pointerSize}`;
- `HEAD|GET /{repo}/resolve/{rev}/{file}`: `ETag`, `X-Repo-Commit`, `X-Linked-Etag`/`X-Linked-Size` (LFS),
  `Content-Length`, `Accept-Ranges`, and `Range: bytes=N-` answered with 206 + `Content-Range`;
- errors as the hub sends them: 404 with `X-Error-Code: RepoNotFound | RevisionNotFound | EntryNotFound`,
  401 with `X-Error-Code: GatedRepo` for a gated repo without the right token.

Switchable misbehaviour: drop the connection after N bytes (once), ignore Range (answer 200), serve wrong
bytes for a file, throttle to N bytes/s, answer everything with an error status.
Every file GET is recorded in `requests`.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit

LFS_SUFFIXES = (".gguf", ".safetensors", ".bin", ".pt", ".pth", ".ckpt")
SEND_BLOCK = 64 * 1024


@dataclass
class StandinFile:
    """A file of a stand-in repo: its bytes (in memory or on disk) and hashes."""

    source: bytes | Path
    size: int
    sha256: str
    blob_id: str
    lfs: bool

    def read(self, start: int, end: int) -> bytes:
        """Bytes [start, end)."""
        if isinstance(self.source, bytes):
            return self.source[start:end]
        with self.source.open("rb") as handle:
            handle.seek(start)
            return handle.read(end - start)


def make_file(name: str, source: bytes | Path, sha256: str | None = None) -> StandinFile:
    """Describe `source` as the hub would (sha256 given for big files to avoid hashing twice)."""
    data = source if isinstance(source, bytes) else None
    size = len(data) if data is not None else Path(source).stat().st_size
    if sha256 is None:
        sha256 = hashlib.sha256(data if data is not None else Path(source).read_bytes()).hexdigest()
    lfs = name.lower().endswith(LFS_SUFFIXES)
    blob = hashlib.sha1(b"blob %d\0" % size + data).hexdigest() if (data is not None and not lfs) else sha256[:40]
    return StandinFile(source, size, sha256, blob, lfs)


@dataclass
class StandinRepo:
    """A repository: files at one commit, on the branches listed."""

    repo_id: str
    files: dict[str, StandinFile]
    commit: str = field(default_factory=lambda: secrets.token_hex(20))
    branches: tuple[str, ...] = ("main",)
    gated: bool = False
    corrupt: set[str] = field(default_factory=set)  # names served with wrong bytes


@dataclass
class ServedRequest:
    """One file GET as the stand-in saw it."""

    path: str
    range_start: int
    status: int
    bytes_sent: int
    authorization: str | None
    range_header: str | None


class HubStandin:
    """The server; use as a context manager. `url` is the endpoint to give huggingface_hub."""

    def __init__(self, token: str = "hf_standin_secret_token") -> None:
        self.token = token
        self.repos: dict[str, StandinRepo] = {}
        self.drop_after: int | None = None  # close the next file GET after this many body bytes
        self.ignore_range = False
        self.throttle_bps: int | None = None
        self.fail_status: int | None = None  # answer every request with this status (e.g. 503)
        self.requests: list[ServedRequest] = []
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        """The endpoint, e.g. http://127.0.0.1:PORT."""
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def add_repo(self, repo_id: str, files: dict[str, StandinFile], **options: object) -> StandinRepo:
        """Serve a repository (options: commit, branches, gated, corrupt)."""
        repo = StandinRepo(repo_id, files, **options)  # type: ignore[arg-type]
        self.repos[repo_id] = repo
        return repo

    def file_requests(self, name: str) -> list[ServedRequest]:
        """The GETs of files whose path ends with `name`."""
        with self._lock:
            return [r for r in self.requests if r.path.endswith("/" + name)]

    def __enter__(self) -> HubStandin:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def record(self, request: ServedRequest) -> None:
        """Remember a served file request."""
        with self._lock:
            self.requests.append(request)


def _handler(hub: HubStandin) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: object) -> None:
            return None

        def do_GET(self) -> None:
            self._route(body=True)

        def do_HEAD(self) -> None:
            self._route(body=False)

        def _route(self, body: bool) -> None:
            if hub.fail_status:
                return self._error(hub.fail_status, "", "the stand-in is failing on purpose")
            parts = [unquote(p) for p in urlsplit(self.path).path.split("/") if p]
            if parts[:2] == ["api", "models"] and len(parts) >= 4:
                rev = "/".join(parts[5:]) if len(parts) >= 6 and parts[4] == "revision" else "main"
                return self._model_info("/".join(parts[2:4]), rev)
            if len(parts) >= 5 and parts[2] == "resolve":
                return self._resolve("/".join(parts[:2]), parts[3], "/".join(parts[4:]), body)
            return self._error(404, "RepoNotFound", "not found")

        def _repo(self, repo_id: str, rev: str) -> StandinRepo | None:
            repo = hub.repos.get(repo_id)
            if repo is None:
                self._error(404, "RepoNotFound", "Repository not found")
                return None
            if rev not in repo.branches and rev != repo.commit:
                self._error(404, "RevisionNotFound", "Invalid rev id")
                return None
            return repo

        def _model_info(self, repo_id: str, rev: str) -> None:
            repo = self._repo(repo_id, rev)
            if repo is None:
                return
            siblings = []
            for name, f in repo.files.items():
                entry: dict = {"rfilename": name, "size": f.size, "blobId": f.blob_id}
                if f.lfs:
                    entry["lfs"] = {"sha256": f.sha256, "size": f.size, "pointerSize": 134}
                siblings.append(entry)
            info = {
                "_id": repo.commit[:24],
                "id": repo_id,
                "modelId": repo_id,
                "sha": repo.commit,
                "private": False,
                "gated": "manual" if repo.gated else False,
                "disabled": False,
                "tags": [],
                "siblings": siblings,
            }
            payload = json.dumps(info).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def _resolve(self, repo_id: str, rev: str, name: str, body: bool) -> None:
            repo = self._repo(repo_id, rev)
            if repo is None:
                return
            auth = self.headers.get("Authorization")
            if repo.gated and auth != f"Bearer {hub.token}":
                return self._error(401, "GatedRepo", f"Access to model {repo_id} is restricted.")
            f = repo.files.get(name)
            if f is None:
                return self._error(404, "EntryNotFound", f"{name} does not exist on {rev}")
            start = 0
            range_header = self.headers.get("Range")
            if range_header and range_header.startswith("bytes=") and not hub.ignore_range and body:
                start = int(range_header[6:].split("-")[0])
            status = 206 if start else 200
            self.send_response(status)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Accept-Ranges", "bytes")
            self.send_header("X-Repo-Commit", repo.commit)
            self.send_header("ETag", f'"{f.sha256 if f.lfs else f.blob_id}"')
            if f.lfs:
                self.send_header("X-Linked-Etag", f'"{f.sha256}"')
                self.send_header("X-Linked-Size", str(f.size))
            if status == 206:
                self.send_header("Content-Range", f"bytes {start}-{f.size - 1}/{f.size}")
            self.send_header("Content-Length", str(f.size - start))
            self.end_headers()
            if body:
                self._send_body(repo, name, f, start, auth)

        def _send_body(self, repo: StandinRepo, name: str, f: StandinFile, start: int, auth: str | None) -> None:
            drop_after, hub.drop_after = hub.drop_after, None
            sent, status = 0, 206 if start else 200
            position = start
            try:
                while position < f.size:
                    block = f.read(position, min(position + SEND_BLOCK, f.size))
                    if name in repo.corrupt:
                        block = bytes(b ^ 0xFF for b in block[:16]) + block[16:]
                    if drop_after is not None and sent + len(block) > drop_after:
                        self.wfile.write(block[: drop_after - sent])
                        sent = drop_after
                        self.wfile.flush()
                        self.close_connection = True
                        return
                    self.wfile.write(block)
                    sent += len(block)
                    position += len(block)
                    if hub.throttle_bps:
                        time.sleep(len(block) / hub.throttle_bps)
            except (BrokenPipeError, ConnectionResetError):
                self.close_connection = True
            finally:
                hub.record(ServedRequest(self.path, start, status, sent, auth, self.headers.get("Range")))

        def _error(self, status: int, code: str, message: str) -> None:
            payload = json.dumps({"error": message}).encode()
            self.send_response(status)
            if code:
                self.send_header("X-Error-Code", code)
            self.send_header("X-Error-Message", message)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(payload)

    return Handler
