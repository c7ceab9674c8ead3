"""Serve the API with uvicorn in a background thread, next to the Gradio UI."""

from __future__ import annotations

import threading
import time

from backends.errors import SettingsError
from webui.app import App


def start_api(app: App, timeout: float = 30.0) -> threading.Thread:
    """Start serving `build_api(app)` on `settings.api_port`; raise `SettingsError` if it cannot listen."""
    import uvicorn

    from webui.api.app import build_api

    settings = app.settings
    config = uvicorn.Config(
        build_api(app),
        host=settings.host,
        port=settings.api_port,
        log_level="warning",
        access_log=False,
        timeout_graceful_shutdown=2,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="jielong-api", daemon=True)
    thread.start()
    deadline = time.monotonic() + timeout
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise SettingsError(f"the API could not listen on {settings.host}:{settings.api_port}")
        time.sleep(0.05)
    return thread
