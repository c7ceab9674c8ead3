"""Log-probabilities of generated tokens, computed the same way by every local backend."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from backends.base import TokenLogprob


def log_softmax(logits: np.ndarray) -> np.ndarray:
    """Log-probabilities of raw logits (float64, numerically stable)."""
    values = np.asarray(logits, dtype=np.float64)
    shifted = values - values.max()
    return shifted - np.log(np.exp(shifted).sum())


def token_logprob(logprobs: np.ndarray, token: int, top: int, text_of: Callable[[int], str]) -> TokenLogprob:
    """`token`'s entry in `logprobs` (from `log_softmax`) with the `top` most likely alternatives."""
    alternatives: tuple[tuple[int, str, float], ...] = ()
    if top > 0:
        count = min(top, logprobs.shape[0])
        best = np.argpartition(-logprobs, count - 1)[:count]
        best = best[np.argsort(-logprobs[best], kind="stable")]
        alternatives = tuple((int(t), text_of(int(t)), float(logprobs[t])) for t in best)
    return TokenLogprob(token_id=token, text=text_of(token), logprob=float(logprobs[token]), top=alternatives)
