"""The downloader end to end: the real huggingface_hub client against the loopback hub stand-in."""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import save as save_safetensors

from backends.errors import AlreadyExists, AuthRequired, DiskFull, HubUnreachable, InvalidRequest, ModelNotFound
from tests.conftest import free_port
from tests.hub_standin import HubStandin, StandinFile, make_file
from webui.downloads import DownloadManager, DownloadProgress, list_repo_files, parse_repo_ref

GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
CHUNK = 10 * 1024 * 1024  # huggingface_hub writes (and reports) the body in chunks of this size
BLOB_SIZE = 24 * 1024 * 1024


@pytest.fixture(scope="module")
def gguf_file(model_path: Path) -> StandinFile:
    """The bundled GGUF as a stand-in repo file (hashed once)."""
    return make_file(GGUF_NAME, model_path)


@pytest.fixture(scope="module")
def blob() -> bytes:
    """24 MB of random bytes: a stand-in GGUF big enough to cancel mid-way."""
    return np.random.default_rng(7).bytes(BLOB_SIZE)


@pytest.fixture
def hub(gguf_file: StandinFile, blob: bytes) -> Iterator[HubStandin]:
    """The stand-in serving the test repos."""
    tensors = save_safetensors({"w": np.arange(64, dtype=np.float32).reshape(8, 8)})
    with HubStandin() as standin:
        standin.add_repo("org/smol-GGUF", {GGUF_NAME: gguf_file, "README.md": make_file("README.md", b"# smol\n")})
        standin.add_repo(
            "org/tiny-hf",
            {
                "config.json": make_file("config.json", b'{"model_type": "llama"}\n'),
                "model.safetensors": make_file("model.safetensors", tensors),
                "pytorch_model.bin": make_file("pytorch_model.bin", b"\x80\x04pickle, not wanted"),
                "tokenizer/tokenizer.json": make_file("tokenizer/tokenizer.json", b"{}"),
            },
        )
        standin.add_repo("org/blob", {"blob.Q4_0.gguf": make_file("blob.Q4_0.gguf", blob)})
        standin.add_repo("org/blob2", {"blob2.Q8_0.gguf": make_file("blob2.Q8_0.gguf", blob[::-1])})
        yield standin


@pytest.fixture
def models(tmp_path: Path) -> Path:
    """An empty models folder inside tmp_path."""
    path = tmp_path / "models"
    path.mkdir()
    return path


@pytest.fixture
def manager(models: Path, hub: HubStandin) -> Iterator[DownloadManager]:
    """A DownloadManager pointed at the stand-in."""
    manager = DownloadManager(models, endpoint=hub.url)
    yield manager
    manager.close()


def tree(root: Path) -> set[str]:
    """Every path under `root`, relative."""
    return {str(p.relative_to(root)) for p in root.rglob("*")}


def sha256(path: Path) -> str:
    """The file's sha256."""
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def wait_until(manager: DownloadManager, job_id: str, condition, timeout: float = 60) -> DownloadProgress:
    """Poll the job until `condition(progress)` holds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        progress = manager.get(job_id)
        if condition(progress):
            return progress
        time.sleep(0.01)
    raise AssertionError(f"condition not reached: {manager.get(job_id)}")


def cancelled_partway(hub: HubStandin, manager: DownloadManager, repo: str) -> DownloadProgress:
    """Start a throttled download, cancel it after the first chunk; return its final progress."""
    hub.throttle_bps = 16 * 1024 * 1024
    started = manager.start(parse_repo_ref(repo))
    seen = wait_until(manager, started.job_id, lambda p: p.done_bytes >= CHUNK or p.finished)
    assert seen.state == "running" and seen.speed_bytes_per_s and seen.eta_s is not None
    manager.cancel(started.job_id)
    final = manager.wait(started.job_id, timeout=30)
    hub.throttle_bps = None
    return final


def test_listing_gives_sizes_sha256_kinds_and_the_commit(hub: HubStandin, gguf_file: StandinFile) -> None:
    listing = list_repo_files(parse_repo_ref("org/smol-GGUF"), endpoint=hub.url)
    assert listing.commit == hub.repos["org/smol-GGUF"].commit
    gguf = listing.file(GGUF_NAME)
    assert (gguf.size, gguf.sha256, gguf.kind) == (gguf_file.size, gguf_file.sha256, "gguf")
    assert listing.file("README.md").sha256 is None and listing.file("README.md").blob_id
    assert [(c.label, c.quantization) for c in listing.gguf_choices()] == [(GGUF_NAME, "Q4_1")]


@pytest.mark.slow
def test_gguf_download_is_verified_and_appears_only_when_complete(
    manager: DownloadManager, models: Path, model_path: Path
) -> None:
    progress = manager.start(parse_repo_ref("https://huggingface.co/org/smol-GGUF/blob/main/" + GGUF_NAME))
    assert progress.destination == GGUF_NAME and progress.total_bytes == model_path.stat().st_size
    done = manager.wait(progress.job_id, timeout=120)
    assert done.state == "done", done.error
    assert done.done_bytes == done.total_bytes
    assert sha256(models / GGUF_NAME) == sha256(model_path)
    assert tree(models) == {GGUF_NAME}  # staging cleaned up, nothing else left
    with pytest.raises(AlreadyExists, match="already in the models folder"):
        manager.start(parse_repo_ref("org/smol-GGUF"))


def test_safetensors_repo_lands_in_one_folder_without_pickle_weights(
    manager: DownloadManager, models: Path, hub: HubStandin
) -> None:
    progress = manager.start(parse_repo_ref("org/tiny-hf"))
    done = manager.wait(progress.job_id, timeout=60)
    assert done.state == "done", done.error
    assert tree(models) == {"org_tiny-hf", "org_tiny-hf/config.json", "org_tiny-hf/model.safetensors",
                            "org_tiny-hf/tokenizer", "org_tiny-hf/tokenizer/tokenizer.json"}  # fmt: skip
    repo = hub.repos["org/tiny-hf"]
    assert (models / "org_tiny-hf/model.safetensors").read_bytes() == repo.files["model.safetensors"].read(0, 10**9)
    assert not hub.file_requests("pytorch_model.bin")


@pytest.mark.slow
def test_a_dropped_connection_resumes_with_a_range_request(
    manager: DownloadManager, models: Path, hub: HubStandin, model_path: Path
) -> None:
    hub.drop_after = 3 * CHUNK + 12345
    done = manager.wait(manager.start(parse_repo_ref("org/smol-GGUF")).job_id, timeout=120)
    assert done.state == "done", done.error
    first, second = hub.file_requests(GGUF_NAME)
    total = model_path.stat().st_size
    assert first.bytes_sent == 3 * CHUNK + 12345
    assert second.status == 206 and second.range_start == 3 * CHUNK  # the whole chunks written survived
    assert second.bytes_sent == total - 3 * CHUNK < total
    assert sha256(models / GGUF_NAME) == sha256(model_path)


def test_cancel_keeps_a_partial_file_that_a_new_manager_resumes(
    hub: HubStandin, models: Path, manager: DownloadManager, blob: bytes
) -> None:
    cancelled = cancelled_partway(hub, manager, "org/blob")
    assert cancelled.state == "cancelled"
    partials = [p for p in models.rglob("blob.Q4_0.gguf") if p.is_file()]
    assert len(partials) == 1 and ".downloads" in partials[0].parts  # not in models/ itself
    kept = partials[0].stat().st_size
    assert 0 < kept < BLOB_SIZE and kept % CHUNK == 0
    assert partials[0].read_bytes() == blob[:kept]

    restarted = DownloadManager(models, endpoint=hub.url)  # as after a restart of the app
    done = restarted.wait(restarted.start(parse_repo_ref("org/blob")).job_id, timeout=60)
    assert done.state == "done", done.error
    last = hub.file_requests("blob.Q4_0.gguf")[-1]
    assert (last.status, last.range_start, last.bytes_sent) == (206, kept, BLOB_SIZE - kept)
    assert (models / "blob.Q4_0.gguf").read_bytes() == blob
    assert tree(models) == {"blob.Q4_0.gguf"}


def test_a_server_ignoring_range_restarts_the_file_from_zero(
    hub: HubStandin, models: Path, manager: DownloadManager, blob: bytes
) -> None:
    assert cancelled_partway(hub, manager, "org/blob").state == "cancelled"
    hub.ignore_range = True
    done = manager.wait(manager.start(parse_repo_ref("org/blob")).job_id, timeout=60)
    assert done.state == "done", done.error
    last = hub.file_requests("blob.Q4_0.gguf")[-1]
    assert last.range_header and last.status == 200 and last.bytes_sent == BLOB_SIZE
    assert (models / "blob.Q4_0.gguf").read_bytes() == blob  # not appended to the partial file


def test_a_checksum_mismatch_removes_the_file_and_says_so(
    hub: HubStandin, models: Path, manager: DownloadManager
) -> None:
    hub.repos["org/blob"].corrupt.add("blob.Q4_0.gguf")
    done = manager.wait(manager.start(parse_repo_ref("org/blob")).job_id, timeout=60)
    assert done.state == "failed" and done.error_type == "ChecksumMismatch"
    assert "sha256" in done.error and "removed" in done.error
    assert not [p for p in models.rglob("*") if p.is_file()]  # neither in models/ nor in staging


@pytest.mark.parametrize("hostile", ["../../evil.gguf", "..\\..\\evil.gguf", "/etc/evil.gguf", "C:\\evil.gguf"])
def test_hostile_names_refuse_the_download_before_anything_is_written(
    hub: HubStandin, tmp_path: Path, manager: DownloadManager, hostile: str
) -> None:
    hub.add_repo("bad/names", {"good.Q4_0.gguf": make_file("x.gguf", b"GGUF good"), hostile: make_file("x.gguf", b"x")})
    before = tree(tmp_path)
    for files in (None, ["good.Q4_0.gguf"], [hostile]):
        with pytest.raises(InvalidRequest, match="refusing the download"):
            manager.start(parse_repo_ref("bad/names"), files)
    assert tree(tmp_path) == before
    assert not hub.requests  # no file was even requested


def test_names_colliding_on_case_insensitive_disks_refuse_the_download(
    hub: HubStandin, tmp_path: Path, manager: DownloadManager
) -> None:
    files = {n: make_file(n, b"weights") for n in ("config.json", "model.safetensors", "MODEL.safetensors")}
    hub.add_repo("bad/case", files)
    before = tree(tmp_path)
    with pytest.raises(InvalidRequest, match="same file"):
        manager.start(parse_repo_ref("bad/case"))
    assert tree(tmp_path) == before


def test_missing_repo_branch_and_file_are_not_found(hub: HubStandin, manager: DownloadManager) -> None:
    with pytest.raises(ModelNotFound, match="org/nope not found"):
        list_repo_files(parse_repo_ref("org/nope"), endpoint=hub.url)
    with pytest.raises(ModelNotFound, match="no branch, tag or commit 'dev'"):
        manager.start(parse_repo_ref("org/blob:dev"))
    with pytest.raises(ModelNotFound, match=r"no file 'other\.gguf'"):
        manager.start(parse_repo_ref("org/blob"), ["other.gguf"])


def test_an_unreachable_hub_is_reported(models: Path) -> None:
    endpoint = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(HubUnreachable, match="cannot reach the hub"):
        DownloadManager(models, endpoint=endpoint).start(parse_repo_ref("org/repo"))


def test_a_failing_hub_is_reported_as_unreachable(hub: HubStandin, manager: DownloadManager) -> None:
    hub.fail_status = 503
    with pytest.raises(HubUnreachable, match="answered HTTP 503"):
        manager.start(parse_repo_ref("org/blob"))


def test_the_token_comes_from_hf_token(
    hub: HubStandin, models: Path, manager: DownloadManager, monkeypatch: pytest.MonkeyPatch
) -> None:
    hub.add_repo("org/gated", {"g.Q4_0.gguf": make_file("g.Q4_0.gguf", b"GGUF gated weights")}, gated=True)
    monkeypatch.setenv("HF_TOKEN", hub.token)
    assert manager.wait(manager.start(parse_repo_ref("org/gated")).job_id, 30).state == "done"
    assert hub.file_requests("g.Q4_0.gguf")[-1].authorization == f"Bearer {hub.token}"


def test_gated_repo_needs_a_token_that_is_never_shown(
    hub: HubStandin, models: Path, manager: DownloadManager, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    hub.add_repo("org/gated", {"g.Q4_0.gguf": make_file("g.Q4_0.gguf", b"GGUF gated weights")}, gated=True)
    ref = parse_repo_ref("org/gated")
    assert list_repo_files(ref, endpoint=hub.url).gated
    wrong = "hf_wrong_token_0123456789"
    with pytest.raises(AuthRequired, match="gated") as no_token:
        manager.start(ref, token=None)
    with pytest.raises(AuthRequired, match="gated") as bad_token:
        manager.start(ref, token=wrong)
    done = manager.wait(manager.start(ref, token=hub.token).job_id, timeout=30)
    assert done.state == "done", done.error
    assert (models / "g.Q4_0.gguf").read_bytes() == b"GGUF gated weights"
    assert hub.file_requests("g.Q4_0.gguf")[-1].authorization == f"Bearer {hub.token}"  # it was really sent
    shown = caplog.text + str(no_token.value) + str(bad_token.value) + repr(manager.jobs())
    assert hub.token not in shown and wrong not in shown
    assert "download" in caplog.text  # the log was captured at all


def test_two_downloads_at_once_do_not_disturb_each_other(
    hub: HubStandin, models: Path, manager: DownloadManager, blob: bytes
) -> None:
    hub.throttle_bps = 64 * 1024 * 1024
    first = manager.start(parse_repo_ref("org/blob"))
    second = manager.start(parse_repo_ref("org/blob2"))
    with pytest.raises(AlreadyExists, match="already being downloaded"):
        manager.start(parse_repo_ref("org/blob"))
    assert {p.job_id for p in manager.jobs()} == {first.job_id, second.job_id}
    with pytest.raises(InvalidRequest, match="no download with id"):
        manager.get("not-a-job")
    assert manager.wait(first.job_id, 60).state == "done"
    assert manager.wait(second.job_id, 60).state == "done"
    assert (models / "blob.Q4_0.gguf").read_bytes() == blob
    assert (models / "blob2.Q8_0.gguf").read_bytes() == blob[::-1]


def test_not_enough_disk_space_is_refused_up_front(hub: HubStandin, tmp_path: Path, models: Path) -> None:
    before = tree(tmp_path)
    manager = DownloadManager(models, endpoint=hub.url, min_free_bytes=2**62)
    with pytest.raises(DiskFull, match="not enough disk space"):
        manager.start(parse_repo_ref("org/blob"))
    assert tree(tmp_path) == before


def test_the_endpoint_defaults_to_hf_endpoint(hub: HubStandin, models: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_ENDPOINT", hub.url)
    assert DownloadManager(models).endpoint == hub.url
    assert list_repo_files(parse_repo_ref("org/blob")).commit == hub.repos["org/blob"].commit


def test_a_split_gguf_set_downloads_as_one_choice(hub: HubStandin, models: Path, manager: DownloadManager) -> None:
    parts = {f"q/m-Q8_0-0000{i}-of-00002.gguf": f"GGUF part {i}".encode() for i in (1, 2)}
    files = {name: make_file(name, data) for name, data in parts.items()}
    hub.add_repo("org/split", {**files, "m-Q4_0.gguf": make_file("m-Q4_0.gguf", b"GGUF other")})
    with pytest.raises(InvalidRequest, match="pick one"):
        manager.start(parse_repo_ref("org/split"))
    (models / "m-Q8_0-00002-of-00002.gguf").write_bytes(b"left from before")
    with pytest.raises(AlreadyExists):
        manager.start(parse_repo_ref("org/split"), ["q/m-Q8_0-00001-of-00002.gguf"])
    (models / "m-Q8_0-00002-of-00002.gguf").unlink()
    progress = manager.start(parse_repo_ref("org/split"), ["q/m-Q8_0-00002-of-00002.gguf"])
    assert progress.destination == "m-Q8_0-00001-of-00002.gguf"
    assert manager.wait(progress.job_id, 30).state == "done"
    assert tree(models) == {"m-Q8_0-00001-of-00002.gguf", "m-Q8_0-00002-of-00002.gguf"}
    assert (models / "m-Q8_0-00002-of-00002.gguf").read_bytes() == b"GGUF part 2"
