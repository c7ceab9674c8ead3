"""The RAG extension embeds with the App's shared all-MiniLM-L6-v2 embedder (`webui.embeddings`)."""

from __future__ import annotations

from webui.embeddings import Embedder
from webui.embeddings import bundled_embedding_path as bundled_model_dir

__all__ = ["Embedder", "bundled_model_dir"]
