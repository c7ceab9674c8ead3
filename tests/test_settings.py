"""Settings, flags and the refusal to listen beyond loopback without credentials."""

from __future__ import annotations

from pathlib import Path

import pytest

from backends.errors import SettingsError
from webui.cli import settings_from_args
from webui.settings import check_exposure, is_loopback


def test_defaults_bind_loopback_on_7860() -> None:
    settings = settings_from_args([])
    assert settings.host == "127.0.0.1"
    assert settings.port == 7860
    assert settings.model is None  # the bundled model
    check_exposure(settings)


@pytest.mark.parametrize("args", [["--listen"], ["--host", "0.0.0.0"], ["--host", "192.168.1.5"], ["--host", "::"]])
def test_listening_beyond_loopback_needs_auth(args: list[str]) -> None:
    settings = settings_from_args(args)
    with pytest.raises(SettingsError, match="--auth"):
        check_exposure(settings)
    check_exposure(settings_from_args([*args, "--auth", "me:secret"]))


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.2", "::1", "[::1]", "localhost"])
def test_loopback_addresses(host: str) -> None:
    assert is_loopback(host)


@pytest.mark.parametrize("auth", ["nocolon", ":pw", "user:"])
def test_auth_must_be_user_and_password(auth: str) -> None:
    with pytest.raises(SettingsError, match="auth"):
        settings_from_args(["--auth", auth])


def test_settings_file_is_read_and_flags_override_it(tmp_path: Path) -> None:
    path = tmp_path / "settings.yaml"
    path.write_text("n_ctx: 2048\nthreads: 3\nsystem-prompt: Be terse.\n")
    settings = settings_from_args(["--settings", str(path), "--threads", "1"])
    assert (settings.n_ctx, settings.threads, settings.system_prompt) == (2048, 1, "Be terse.")


def test_settings_file_errors_name_the_file_and_key(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("n_ctx: -5\nflux_capacitor: 1\n")
    with pytest.raises(SettingsError) as caught:
        settings_from_args(["--settings", str(path)])
    message = str(caught.value)
    assert str(path) in message and "n_ctx" in message and "flux_capacitor" in message


@pytest.mark.parametrize("text", ["a: [1, 2", "- just\n- a list\n"])
def test_malformed_settings_file(tmp_path: Path, text: str) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text(text)
    with pytest.raises(SettingsError, match=r"broken\.yaml"):
        settings_from_args(["--settings", str(path)])
