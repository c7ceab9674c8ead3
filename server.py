"""Start Jielong: parse flags, build the app, load the model, serve the UI."""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Sequence

from backends.errors import SettingsError
from webui.app import build_app
from webui.cli import settings_from_args
from webui.settings import check_exposure


def main(argv: Sequence[str] | None = None) -> int:
    """Run the server until interrupted; return the process exit status."""
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    try:
        settings = settings_from_args(argv)
        check_exposure(settings)
    except SettingsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2

    app = build_app(settings)
    if not app.load_initial_model():
        print(f"error: {app.models.load_error}", file=sys.stderr)

    if settings.api:
        from webui.api.serve import start_api

        try:
            start_api(app)
        except SettingsError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        print(f"OpenAI-compatible API at http://{settings.host}:{settings.api_port}/v1", flush=True)

    from webui.i18n import build_i18n
    from webui.ui import build_ui, page_css, page_js  # imports gradio, which is slow: only when serving

    demo = build_ui(app)
    demo.queue(default_concurrency_limit=None)
    print(f"Jielong is running at http://{settings.host}:{settings.port}", flush=True)
    demo.launch(
        server_name=settings.host,
        server_port=settings.port,
        auth=settings.auth_pair(),
        show_error=True,
        share=False,
        ssr_mode=False,
        quiet=True,
        css=page_css(app),
        js=page_js(app),
        max_file_size="50mb",
        i18n=build_i18n(),
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
