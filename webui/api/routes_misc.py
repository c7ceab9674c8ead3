"""GET /health and /v1/models; POST /v1/embeddings and the tokenizer endpoints."""

from __future__ import annotations

import base64
from typing import Any

import numpy as np
from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool

from webui.api.errors import ParamError, UnknownModel
from webui.api.generate import check_token_ids, model_ids
from webui.api.routes_generate import ERRORS
from webui.api.schemas import DetokenizeRequest, EmbeddingRequest, TokenizeRequest
from webui.app import App
from webui.embeddings import EMBEDDING_MODEL_ID

router = APIRouter()
EMBEDDING_DIMENSIONS = 384


def _app(request: Request) -> App:
    return request.app.state.jielong


def _model_card(model_id: str, created: int) -> dict[str, Any]:
    return {"id": model_id, "object": "model", "created": created, "owned_by": "jielong"}


@router.get("/health", tags=["meta"])
async def health(request: Request) -> dict[str, Any]:
    """Liveness: whether a model is loaded and how many requests wait for it (no key needed)."""
    app = _app(request)
    loaded = app.models.is_loaded
    return {
        "status": "ok" if loaded else "no_model",
        "model": app.models.loaded.path.name if loaded else None,
        "queued": app.models.waiting,
    }


@router.get("/v1/models", tags=["models"])
async def list_models(request: Request) -> dict[str, Any]:
    """The loaded generation model and the embedding model."""
    created = int(request.app.state.started)
    ids = [*model_ids(_app(request)), EMBEDDING_MODEL_ID]
    return {"object": "list", "data": [_model_card(model_id, created) for model_id in ids]}


@router.get("/v1/models/{model_id:path}", tags=["models"], responses=ERRORS)
async def get_model(model_id: str, request: Request) -> dict[str, Any]:
    """One model's card; 404 if it is not served here."""
    known = [*model_ids(_app(request)), EMBEDDING_MODEL_ID]
    if model_id not in known:
        raise UnknownModel(model_id, known)
    return _model_card(model_id, int(request.app.state.started))


@router.post("/v1/embeddings", tags=["embeddings"], responses=ERRORS)
async def embeddings(body: EmbeddingRequest, request: Request) -> dict[str, Any]:
    """Sentence embeddings (unit length) from the bundled all-MiniLM-L6-v2."""
    if body.model not in (EMBEDDING_MODEL_ID, f"sentence-transformers/{EMBEDDING_MODEL_ID}"):
        raise UnknownModel(body.model, [EMBEDDING_MODEL_ID])
    if body.dimensions is not None and body.dimensions > EMBEDDING_DIMENSIONS:
        raise ParamError("dimensions", f"at most {EMBEDDING_DIMENSIONS} for {EMBEDDING_MODEL_ID}")
    texts = [body.input] if isinstance(body.input, str) else body.input
    embedder = _app(request).embedder
    vectors = await run_in_threadpool(embedder.encode, texts)
    if body.dimensions is not None:  # shorten and renormalise, as OpenAI does
        vectors = vectors[:, : body.dimensions]
        vectors /= np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
    tokens = await run_in_threadpool(embedder.count_input_tokens, texts)
    data = []
    for index, vector in enumerate(vectors):
        encoded: Any = (
            base64.b64encode(vector.astype("<f4").tobytes()).decode()
            if body.encoding_format == "base64"
            else vector.tolist()
        )
        data.append({"object": "embedding", "index": index, "embedding": encoded})
    return {
        "object": "list",
        "data": data,
        "model": body.model,
        "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
    }


@router.post("/v1/internal/tokenize", tags=["tokens"], responses=ERRORS)
async def tokenize(body: TokenizeRequest, request: Request) -> dict[str, Any]:
    """The loaded model's token ids for `text` (control tokens like <|im_start|> are parsed)."""
    backend = _app(request).models.loaded.backend
    ids = await run_in_threadpool(backend.tokenize, body.text, add_bos=body.add_special)
    return {"tokens": ids, "count": len(ids)}


@router.post("/v1/internal/token-count", tags=["tokens"], responses=ERRORS)
async def token_count(body: TokenizeRequest, request: Request) -> dict[str, Any]:
    """How many tokens `text` is for the loaded model."""
    backend = _app(request).models.loaded.backend
    ids = await run_in_threadpool(backend.tokenize, body.text, add_bos=body.add_special)
    return {"count": len(ids), "context_length": backend.capabilities.context_length}


@router.post("/v1/internal/detokenize", tags=["tokens"], responses=ERRORS)
async def detokenize(body: DetokenizeRequest, request: Request) -> dict[str, Any]:
    """The text of token ids (control tokens dropped)."""
    app = _app(request)
    check_token_ids(app, body.tokens, "tokens")
    text = await run_in_threadpool(app.models.loaded.backend.detokenize, body.tokens)
    return {"text": text}
