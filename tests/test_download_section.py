"""The Models tab's Download section handlers against the loopback hub stand-in (no browser)."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import save as save_safetensors

from tests.hub_standin import HubStandin, make_file
from webui.downloads import DownloadManager
from webui.ui.download_section import WHOLE_REPO_LABEL, DownloadSection

TOKEN_FIELD_VALUE = "hf_typed_in_the_password_box_123"


@pytest.fixture
def hub() -> Iterator[HubStandin]:
    """The stand-in with a small GGUF repo, a gated one and a safetensors one."""
    tensors = save_safetensors({"w": np.zeros((4, 4), dtype=np.float32)})
    with HubStandin() as standin:
        standin.add_repo("org/small-GGUF", {"small.Q8_0.gguf": make_file("small.Q8_0.gguf", b"GGUF small weights")})
        standin.add_repo("org/gated", {"g.Q4_0.gguf": make_file("g.Q4_0.gguf", b"GGUF gated weights")}, gated=True)
        standin.add_repo(
            "org/tiny-hf",
            {
                "config.json": make_file("config.json", b'{"model_type": "llama"}\n'),
                "model.safetensors": make_file("model.safetensors", tensors),
                "pytorch_model.bin": make_file("pytorch_model.bin", b"\x80\x04pickle"),
            },
        )
        yield standin


@pytest.fixture
def section(tmp_path: Path, hub: HubStandin, monkeypatch: pytest.MonkeyPatch) -> Iterator[DownloadSection]:
    """The section over a manager pointed at the stand-in, with no token in the environment."""
    monkeypatch.delenv("HF_TOKEN", raising=False)
    manager = DownloadManager(tmp_path / "models", endpoint=hub.url)
    yield DownloadSection(manager)
    manager.close()


def finish(section: DownloadSection) -> tuple[str, dict[str, str], bool]:
    """Poll like the timer until no job runs; return the last view, the states seen and whether one finished."""
    seen: dict[str, str] = {}
    finished = False
    for job in section.manager.jobs():
        section.manager.wait(job.job_id, timeout=60)
    view, _, _, seen, finished = section.poll(seen)
    return view, seen, finished


def test_bad_repo_id_is_refused_with_a_message(section: DownloadSection, hub: HubStandin) -> None:
    with pytest.warns(UserWarning, match="repo"):
        view, choices, listed = section.list_files("../../etc", "")
    assert "❌" in view and listed is None and choices["choices"] == []
    assert hub.requests == []  # nothing was asked of the hub


def test_missing_repo_says_not_found(section: DownloadSection) -> None:
    with pytest.warns(UserWarning, match="not found"):
        view, _, listed = section.list_files("org/missing", "")
    assert "not found" in view and listed is None


def test_gated_repo_without_token_asks_for_one_and_never_shows_a_typed_token(section: DownloadSection) -> None:
    view, choices, listed = section.list_files("org/gated", "")
    assert "gated" in view and "token" in view and listed is not None
    with pytest.warns(UserWarning, match="token"):
        _, _, _, message = section.download("org/gated", "", choices["value"], listed)
    assert "token" in message and "gated" in message
    assert not (section.manager.models_dir / "g.Q4_0.gguf").exists()

    with pytest.warns(UserWarning, match="token"):
        *_, message = section.download("org/gated", TOKEN_FIELD_VALUE, choices["value"], listed)
    assert TOKEN_FIELD_VALUE not in message


def test_gated_repo_with_the_right_token_downloads(section: DownloadSection, hub: HubStandin) -> None:
    _, choices, listed = section.list_files("org/gated", hub.token)
    *_, message = section.download("org/gated", hub.token, choices["value"], listed)
    assert "Downloading g.Q4_0.gguf" in message
    view, seen, finished = finish(section)
    assert finished and list(seen.values()) == ["done"] and hub.token not in view
    assert (section.manager.models_dir / "g.Q4_0.gguf").read_bytes() == b"GGUF gated weights"


def test_list_download_then_already_present(section: DownloadSection) -> None:
    view, choices, listed = section.list_files("org/small-GGUF:main", "")
    assert "small.Q8_0.gguf" in view and "18 B" in view
    assert choices["choices"] == [("Q8_0 · small.Q8_0.gguf · 18 B", "Q8_0 · small.Q8_0.gguf · 18 B")]
    jobs, job_choice, timer, _ = section.download("org/small-GGUF:main", "", choices["value"], listed)
    assert "small.Q8_0.gguf" in jobs and timer.active  # the timer polls while the job may still run
    job_id = section.manager.jobs()[0].job_id
    assert job_choice["value"] in (job_id, None)  # selected for Cancel, unless it already finished
    view, seen, finished = finish(section)
    assert finished and "✅" in view and "100.0%" in view and "done" in view
    assert (section.manager.models_dir / "small.Q8_0.gguf").read_bytes() == b"GGUF small weights"
    assert section.poll(seen)[4] is False  # reported once, not at every tick
    assert section.poll(seen)[2].active is False  # nothing runs: the timer stops

    with pytest.warns(UserWarning, match="already"):
        *_, message = section.download("org/small-GGUF:main", "", choices["value"], listed)
    assert "already" in message


def test_cancel_stops_a_running_download_and_keeps_it_resumable(section: DownloadSection, hub: HubStandin) -> None:
    blob = np.random.default_rng(3).bytes(24 * 1024 * 1024)
    hub.add_repo("org/big", {"big.Q4_0.gguf": make_file("big.Q4_0.gguf", blob)})
    hub.throttle_bps = 8_000_000
    _, choices, listed = section.list_files("org/big", "")
    _, job_choice, _, _ = section.download("org/big", "", choices["value"], listed)
    job_id = job_choice["value"]
    assert job_id == section.manager.jobs()[0].job_id  # the new job is selected for Cancel
    *_, message = section.cancel(job_id)
    assert "Cancelling big.Q4_0.gguf" in message
    view, seen, finished = finish(section)
    assert seen == {job_id: "cancelled"} and not finished and "cancelled" in view
    assert not (section.manager.models_dir / "big.Q4_0.gguf").exists()
    assert any(p.is_file() for p in (section.manager.models_dir / ".downloads").rglob("*"))  # kept to resume
    with pytest.warns(UserWarning, match="Pick"):
        section.cancel(None)


def test_checksum_mismatch_is_reported_once_by_the_timer(section: DownloadSection, hub: HubStandin) -> None:
    hub.add_repo("org/bad", {"bad.Q4_0.gguf": make_file("bad.Q4_0.gguf", b"GGUF " * 100)}, corrupt={"bad.Q4_0.gguf"})
    seen = section.states()  # what the page saw when it opened: nothing yet
    _, choices, listed = section.list_files("org/bad", "")
    section.download("org/bad", "", choices["value"], listed)
    section.manager.wait(section.manager.jobs()[0].job_id, timeout=60)
    with pytest.warns(UserWarning, match="failed"):
        view, _, timer, seen, finished = section.poll(seen)
    assert "failed" in view and "sha256" in view.lower() and not finished and not timer.active
    assert not (section.manager.models_dir / "bad.Q4_0.gguf").exists()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the next tick does not warn again
        section.poll(seen)


def test_whole_repository_skips_pickle(section: DownloadSection) -> None:
    _, choices, listed = section.list_files("org/tiny-hf", "")
    assert [label for label, _ in choices["choices"]] == [WHOLE_REPO_LABEL]
    section.download("org/tiny-hf", "", WHOLE_REPO_LABEL, listed)
    finish(section)
    folder = section.manager.models_dir / "org_tiny-hf"
    assert sorted(p.name for p in folder.iterdir()) == ["config.json", "model.safetensors"]


def test_download_without_a_listing_or_after_editing_the_repo_is_refused(section: DownloadSection) -> None:
    with pytest.warns(UserWarning, match="List"):
        section.download("org/small-GGUF", "", None, None)
    _, choices, listed = section.list_files("org/small-GGUF", "")
    with pytest.warns(UserWarning, match="List"):
        section.download("org/other", "", choices["value"], listed)
    assert section.manager.jobs() == []
