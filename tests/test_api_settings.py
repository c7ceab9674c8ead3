"""The API's flags and exposure rules, and its key and Host checks as functions."""

from __future__ import annotations

import pytest

from backends.errors import SettingsError
from webui.api.security import allowed_hosts, key_matches
from webui.cli import settings_from_args
from webui.settings import check_exposure


def test_api_flags_become_settings() -> None:
    settings = settings_from_args(
        ["--api", "--api-port", "5001", "--api-key", "k" * 12, "--api-cors-origins", "http://a.test, http://b.test"]
    )
    assert settings.api and settings.api_port == 5001 and settings.api_key == "k" * 12
    assert settings.api_cors_origins == ("http://a.test", "http://b.test")
    assert not settings_from_args([]).api


def test_api_beyond_loopback_needs_a_key() -> None:
    with pytest.raises(SettingsError, match="--api-key"):
        check_exposure(settings_from_args(["--api", "--listen", "--auth", "u:p"]))
    check_exposure(settings_from_args(["--api", "--listen", "--auth", "u:p", "--api-key", "k" * 12]))
    check_exposure(settings_from_args(["--api"]))  # loopback: no key needed


def test_api_port_must_differ_from_the_ui_port() -> None:
    with pytest.raises(SettingsError, match="api-port"):
        check_exposure(settings_from_args(["--api", "--api-port", "7860"]))


def test_short_keys_are_refused() -> None:
    with pytest.raises(SettingsError, match="api_key"):
        settings_from_args(["--api", "--api-key", "short"])


def test_host_check_applies_to_loopback_binds_only() -> None:
    hosts = allowed_hosts("127.0.0.1", 5000)
    assert {"127.0.0.1:5000", "localhost:5000", "localhost", "[::1]:5000"} <= hosts
    assert "evil.example:5000" not in hosts and "127.0.0.1:5001" not in hosts
    assert allowed_hosts("0.0.0.0", 5000) is None


def test_key_matches_either_header_exactly() -> None:
    key = "secret-key-123"
    assert key_matches(key, {b"authorization": b"Bearer secret-key-123"})
    assert key_matches(key, {b"x-api-key": b"secret-key-123"})
    assert not key_matches(key, {b"authorization": b"Bearer secret-key-12"})
    assert not key_matches(key, {b"authorization": b"Basic secret-key-123"})
    assert not key_matches(key, {})
