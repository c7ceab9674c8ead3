"""Embeddings: sentences as vectors (all-MiniLM-L6-v2), their cosine similarities and a 2-D PCA projection."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from backends.errors import InvalidRequest
from webui.embeddings import Embedder as SharedEmbedder

MAX_SENTENCES = 24


class Embedder(SharedEmbedder):
    """The shared embedder with float64 rows, as the Learn tab's matrix and PCA use them."""

    def encode(self, sentences: Sequence[str], batch_size: int = 32) -> np.ndarray:
        """Unit-length vectors, one row per sentence."""
        return np.asarray(super().encode(sentences, batch_size), dtype=np.float64)


def parse_sentences(text: str) -> list[str]:
    """One sentence per non-empty line; 2 to MAX_SENTENCES of them."""
    sentences = [line.strip() for line in text.splitlines() if line.strip()]
    if not 2 <= len(sentences) <= MAX_SENTENCES:
        raise InvalidRequest(f"write 2 to {MAX_SENTENCES} sentences, one per line (got {len(sentences)})")
    return sentences


def cosine_matrix(vectors: np.ndarray) -> np.ndarray:
    """Cosine similarity of every pair of rows."""
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    unit = vectors / np.where(norms == 0, 1.0, norms)
    return unit @ unit.T


def pca_2d(vectors: np.ndarray) -> np.ndarray:
    """The rows projected on their two principal components (numpy SVD), shape (n, 2)."""
    centered = vectors - vectors.mean(axis=0)
    _, _, components = np.linalg.svd(centered, full_matrices=False)
    projected = centered @ components[:2].T
    if projected.shape[1] < 2:  # fewer than two directions of variation
        projected = np.pad(projected, ((0, 0), (0, 2 - projected.shape[1])))
    return projected
