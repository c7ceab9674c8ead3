"""Confidence: how likely the model found each token of a text, and what it would have said instead."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from backends.base import Backend
from webui.learn.distribution import Candidate, probabilities, top_candidates


@dataclass(frozen=True)
class ScoredToken:
    """One token of a text with the probability the model gave it, and the top alternatives there."""

    token_id: int
    data: bytes
    probability: float
    alternatives: tuple[Candidate, ...]


def score_tokens(
    backend: Backend, context_ids: Sequence[int], token_ids: Sequence[int], alternatives: int = 5
) -> list[ScoredToken]:
    """Score each of `token_ids` given `context_ids` and the tokens before it (one forward step each)."""
    scored: list[ScoredToken] = []
    history = list(context_ids)
    for token in token_ids:
        logits = backend.next_token_logits(history)
        probs = probabilities(logits)
        scored.append(
            ScoredToken(token, backend.token_bytes(token), float(probs[token]), top_candidates(logits, alternatives))
        )
        history.append(token)
    return scored


def perplexity(scored: Sequence[ScoredToken]) -> float:
    """exp(mean surprise): 1 means the model was sure of every token; higher means more surprised."""
    if not scored:
        return 0.0
    surprise = [-math.log(max(token.probability, 1e-12)) for token in scored]
    return math.exp(sum(surprise) / len(surprise))
