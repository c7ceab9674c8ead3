"""`download_model.py` end to end: a real subprocess, HF_ENDPOINT pointing at the loopback hub stand-in."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import REPO
from tests.hub_standin import HubStandin, StandinFile, make_file

GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
CHUNK = 10 * 1024 * 1024


@pytest.fixture(scope="module")
def gguf_file(model_path: Path) -> StandinFile:
    """The bundled GGUF as a stand-in repo file (hashed once)."""
    return make_file(GGUF_NAME, model_path)


@pytest.fixture
def hub(gguf_file: StandinFile) -> Iterator[HubStandin]:
    """The stand-in with the bundled GGUF, a gated repo and a 24 MB blob."""
    with HubStandin() as standin:
        standin.add_repo("org/smol-GGUF", {GGUF_NAME: gguf_file, "README.md": make_file("README.md", b"# smol\n")})
        standin.add_repo("org/gated", {"g.Q4_0.gguf": make_file("g.Q4_0.gguf", b"GGUF gated")}, gated=True)
        blob = np.random.default_rng(3).bytes(24 * 1024 * 1024)
        standin.add_repo("org/blob", {"blob.Q4_0.gguf": make_file("blob.Q4_0.gguf", blob)})
        yield standin


def command(hub: HubStandin, models: Path, *args: str) -> list[str]:
    """The download_model.py command line."""
    return [sys.executable, str(REPO / "download_model.py"), *args, "--models-dir", str(models)]


def environment(hub: HubStandin, token: str | None = None) -> dict[str, str]:
    """The environment: HF_ENDPOINT set to the stand-in, HF_TOKEN only when given."""
    env = {k: v for k, v in os.environ.items() if k != "HF_TOKEN"}
    env.update(HF_ENDPOINT=hub.url, PYTHONUNBUFFERED="1")
    if token:
        env["HF_TOKEN"] = token
    return env


def run(hub: HubStandin, models: Path, *args: str, token: str | None = None) -> subprocess.CompletedProcess:
    """Run download_model.py to the end."""
    return subprocess.run(
        command(hub, models, *args), env=environment(hub, token), capture_output=True, text=True, timeout=120
    )


def test_list_shows_files_and_gguf_choices(hub: HubStandin, tmp_path: Path, gguf_file: StandinFile) -> None:
    result = run(hub, tmp_path / "models", "org/smol-GGUF", "--list")
    assert result.returncode == 0, result.stderr
    assert f"commit {hub.repos['org/smol-GGUF'].commit[:12]}" in result.stdout
    assert f"gguf         {GGUF_NAME}" in result.stdout
    assert "Q4_1" in result.stdout.split("GGUF choices")[1]


@pytest.mark.slow
def test_download_draws_progress_and_verifies(hub: HubStandin, tmp_path: Path, model_path: Path) -> None:
    models = tmp_path / "models"
    hub.throttle_bps = 64 * 1024 * 1024  # long enough for a few progress lines
    result = run(hub, models, "org/smol-GGUF", "--file", GGUF_NAME)
    assert result.returncode == 0, result.stderr
    assert "MB/s" in result.stderr and "ETA 0:00:0" in result.stderr and "100.0%" in result.stderr
    assert f"saved {models / GGUF_NAME}" in result.stderr
    digest = hashlib.sha256((models / GGUF_NAME).read_bytes()).hexdigest()
    assert digest == hashlib.sha256(model_path.read_bytes()).hexdigest()
    again = run(hub, models, "org/smol-GGUF", "--file", GGUF_NAME)
    assert again.returncode == 7 and "already in the models folder" in again.stderr


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["org/nope"], 3, "error: repository org/nope not found"),
        (["../.."], 2, "error: '../..' is not a hub repository id"),
        (["org/smol-GGUF", "--revision", "main/../x"], 2, "is not a branch, tag or commit name"),
        (["org/smol-GGUF:dev"], 3, "no branch, tag or commit 'dev'"),
        (["org/gated"], 4, "error: org/gated is gated"),
    ],
)
def test_errors_are_one_line_with_distinct_exit_codes(
    hub: HubStandin, tmp_path: Path, args: list[str], code: int, message: str
) -> None:
    result = run(hub, tmp_path / "models", *args)
    assert result.returncode == code
    assert message in result.stderr
    assert "Traceback" not in result.stderr and result.stderr.strip().count("\n") == 0


def test_gated_repo_with_hf_token_downloads_and_never_prints_the_token(hub: HubStandin, tmp_path: Path) -> None:
    result = run(hub, tmp_path / "models", "org/gated", token=hub.token)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "models" / "g.Q4_0.gguf").read_bytes() == b"GGUF gated"
    assert hub.token not in result.stdout + result.stderr


@pytest.mark.slow
def test_ctrl_c_keeps_the_partial_file_and_the_next_run_resumes(hub: HubStandin, tmp_path: Path) -> None:
    models = tmp_path / "models"
    hub.throttle_bps = 8 * 1024 * 1024
    process = subprocess.Popen(
        command(hub, models, "org/blob"),
        env=environment(hub),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 60
    partial: list[Path] = []
    while time.monotonic() < deadline and not partial:
        partial = [p for p in models.glob(".downloads/*/partial/blob.Q4_0.gguf") if p.stat().st_size >= CHUNK]
        time.sleep(0.05)
    assert partial, "no partial file appeared"
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 130, stderr
    assert "run the same command again to resume" in stderr
    kept = partial[0].stat().st_size
    assert 0 < kept < 24 * 1024 * 1024 and not (models / "blob.Q4_0.gguf").exists()

    hub.throttle_bps = None
    result = run(hub, models, "org/blob")
    assert result.returncode == 0, result.stderr
    last = hub.file_requests("blob.Q4_0.gguf")[-1]
    assert (last.status, last.range_start) == (206, kept)
    assert (models / "blob.Q4_0.gguf").read_bytes() == hub.repos["org/blob"].files["blob.Q4_0.gguf"].read(0, 2**30)
