"""The FastAPI application of the OpenAI-compatible API."""

from __future__ import annotations

import time

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

from webui.api.errors import install_error_handlers
from webui.api.routes_generate import router as generate_router
from webui.api.routes_misc import router as misc_router
from webui.api.security import GuardMiddleware, allowed_hosts
from webui.app import App


def build_api(app: App) -> FastAPI:
    """The API over `app`: the same chat engine, presets and generation queue as the UI."""
    settings = app.settings
    api = FastAPI(
        title="Jielong OpenAI-compatible API",
        version="1",
        description="Chat and text completions, embeddings and tokenizer endpoints over Jielong's loaded model.",
    )
    api.state.jielong = app
    api.state.started = time.time()
    api.include_router(generate_router)
    api.include_router(misc_router)
    install_error_handlers(api)
    api.add_middleware(
        GuardMiddleware,
        api_key=settings.api_key,
        hosts=allowed_hosts(settings.host, settings.api_port),
    )
    if settings.api_cors_origins:  # added last, so it runs first: preflights are answered before the guard
        api.add_middleware(
            CORSMiddleware,
            allow_origins=list(settings.api_cors_origins),
            allow_methods=["GET", "POST", "OPTIONS"],
            allow_headers=["Authorization", "Content-Type", "x-api-key"],
        )
    return api
