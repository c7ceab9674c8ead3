"""The Learn tab's real-model parts that take longer: embeddings (MiniLM) and attention (transformers)."""

from __future__ import annotations

import numpy as np
import pytest

from backends.errors import NotSupported
from webui.learn.embeddings import Embedder, cosine_matrix, pca_2d

pytestmark = pytest.mark.slow
SENTENCES = [
    "The cat sat on the mat.",
    "A kitten was sitting on the rug.",
    "Stock markets fell sharply on Monday.",
    "Shares dropped steeply at the start of the week.",
]


def test_similar_sentences_are_closer_than_unrelated_ones() -> None:
    vectors = Embedder().encode(SENTENCES)
    assert vectors.shape == (4, 384)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    similarity = cosine_matrix(vectors)
    assert similarity[0, 1] > similarity[0, 2] and similarity[0, 1] > similarity[0, 3]
    assert similarity[2, 3] > similarity[2, 0] and similarity[2, 3] > similarity[2, 1]
    points = pca_2d(vectors)
    near, far = np.linalg.norm(points[0] - points[1]), np.linalg.norm(points[0] - points[2])
    assert near < far


def test_llama_cpp_cannot_show_attention(llama_backend) -> None:
    with pytest.raises(NotSupported, match=r"llama\.cpp backend cannot show attention"):
        llama_backend.attentions([1, 2, 3])


def test_transformers_attention_shape_and_rows(hf_backend) -> None:
    backend = hf_backend
    ids = backend.tokenize("The capital of France is Paris.")
    implementation = backend.model.config._attn_implementation
    weights = backend.attentions(ids)
    config = backend.model.config
    n = len(ids)
    assert weights.shape == (config.num_hidden_layers, config.num_attention_heads, n, n)
    assert np.allclose(weights.sum(axis=-1), 1.0, atol=1e-4)  # each row is a distribution
    assert np.allclose(np.triu(weights, k=1), 0.0)  # causal: no token looks ahead
    assert backend.model.config._attn_implementation == implementation  # eager only for that call
    logits = backend.next_token_logits(ids)
    assert logits.shape == (backend.model.config.vocab_size,)
    assert b"".join(backend.token_bytes(t) for t in ids) == b"The capital of France is Paris."
