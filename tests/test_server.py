"""server.py as a user runs it: bad flags, bad models, a page served."""

from __future__ import annotations

import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import REPO, start_server, stop_server


def test_listen_without_auth_is_refused_with_a_reason() -> None:
    result = subprocess.run(
        [sys.executable, str(REPO / "server.py"), "--listen"], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 2
    assert "refusing to listen on 0.0.0.0 without --auth" in result.stderr


def test_help_lists_the_flags() -> None:
    result = subprocess.run(
        [sys.executable, str(REPO / "server.py"), "--help"], capture_output=True, text=True, timeout=120
    )
    for flag in (
        "--model",
        "--loader",
        "--n-ctx",
        "--threads",
        "--n-gpu-layers",
        "--listen",
        "--port",
        "--auth",
        "--settings",
    ):
        assert flag in result.stdout


@pytest.mark.slow
def test_bad_model_file_is_reported_and_the_app_keeps_running(tmp_path: Path) -> None:
    bad = tmp_path / "broken.gguf"
    bad.write_bytes(b"not a model at all" * 100)
    server = start_server(["--model", str(bad)], tmp_path)
    try:
        with urllib.request.urlopen(server.url + "/config", timeout=10) as response:
            config = response.read().decode()
        assert "No model is loaded" in config
        assert "not a GGUF file" in config
        errors = [line for line in server.log().splitlines() if line.startswith("error:")]
        assert len(errors) == 1 and str(bad) in errors[0] and "not a GGUF file" in errors[0]
        assert server.process.poll() is None
    finally:
        stop_server(server)
