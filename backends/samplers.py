"""Sampler stages as pure functions over a 1-D tensor of next-token logits.

Each stage takes logits (and what it needs) and returns new logits, with removed
tokens set to -inf; nothing is patched into any library. The transformers backend
runs them in `SamplingParams.stage_order()` order; the tests check each one on
hand-built distributions.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

import torch

NEG_INF = float("-inf")


def apply_temperature(logits: torch.Tensor, temperature: float) -> torch.Tensor:
    """Divide by the temperature (0 keeps only the argmax)."""
    if temperature <= 0:
        return keep_top_k(logits, 1)
    return logits / temperature


def dynamic_temperature(logits: torch.Tensor, low: float, high: float, exponent: float) -> torch.Tensor:
    """Temperature between `low` and `high`, higher when the distribution is uncertain (normalised entropy)."""
    probs = torch.softmax(logits, dim=-1)
    finite = torch.isfinite(logits)
    count = int(finite.sum())
    if count <= 1:
        return logits
    entropy = -(probs[finite] * torch.log(probs[finite].clamp_min(1e-30))).sum()
    normalised = float(entropy / torch.log(torch.tensor(float(count))))
    return apply_temperature(logits, low + (high - low) * normalised**exponent)


def keep_top_k(logits: torch.Tensor, k: int) -> torch.Tensor:
    """Keep the `k` largest logits (k <= 0 keeps all)."""
    if k <= 0 or k >= logits.numel():
        return logits
    threshold = torch.topk(logits, k).values[-1]
    return logits.masked_fill(logits < threshold, NEG_INF)


def keep_top_p(logits: torch.Tensor, p: float) -> torch.Tensor:
    """Keep the smallest set of most likely tokens whose probabilities reach `p` (p >= 1 keeps all)."""
    if p >= 1.0:
        return logits
    sorted_logits, order = torch.sort(logits, descending=True)
    cumulative = torch.cumsum(torch.softmax(sorted_logits, dim=-1), dim=-1)
    remove = cumulative - torch.softmax(sorted_logits, dim=-1) >= p  # tokens after the set reached p
    remove[0] = False
    mask = torch.zeros_like(remove).scatter(0, order, remove)
    return logits.masked_fill(mask, NEG_INF)


def keep_min_p(logits: torch.Tensor, min_p: float) -> torch.Tensor:
    """Keep tokens whose probability is at least `min_p` times the top token's."""
    if min_p <= 0:
        return logits
    probs = torch.softmax(logits, dim=-1)
    return logits.masked_fill(probs < min_p * probs.max(), NEG_INF)


def keep_typical(logits: torch.Tensor, p: float) -> torch.Tensor:
    """Locally typical sampling: keep the tokens closest to the expected surprise, up to mass `p`."""
    if p >= 1.0:
        return logits
    log_probs = torch.log_softmax(logits, dim=-1)
    probs = log_probs.exp()
    finite = torch.isfinite(log_probs)
    entropy = -(probs[finite] * log_probs[finite]).sum()
    distance = (-log_probs - entropy).abs().masked_fill(~finite, float("inf"))
    order = torch.argsort(distance)
    cumulative = torch.cumsum(probs[order], dim=-1)
    remove = cumulative - probs[order] >= p
    remove[0] = False
    mask = torch.zeros_like(remove).scatter(0, order, remove)
    return logits.masked_fill(mask, NEG_INF)


def penalize_repetition(
    logits: torch.Tensor, history: Sequence[int], repeat: float, presence: float, frequency: float
) -> torch.Tensor:
    """Repetition (divide positive logits / multiply negative ones), presence and frequency penalties."""
    if not history or (repeat == 1.0 and presence == 0.0 and frequency == 0.0):
        return logits
    counts = Counter(history)
    ids = torch.tensor(list(counts), dtype=torch.long)
    seen = logits[ids]
    if repeat != 1.0:
        seen = torch.where(seen > 0, seen / repeat, seen * repeat)
    times = torch.tensor([counts[i] for i in counts], dtype=logits.dtype)
    seen = seen - presence - frequency * times
    out = logits.clone()
    out[ids] = seen
    return out


def penalize_dry(
    logits: torch.Tensor,
    history: Sequence[int],
    multiplier: float,
    base: float,
    allowed_length: int,
    breakers: set[int],
) -> torch.Tensor:
    """DRY: penalise a token that would extend a sequence already seen earlier in `history`.

    For each earlier occurrence of the text's current ending, the token that followed
    it gets `multiplier * base ** (match_length - allowed_length)` subtracted, once the
    match is at least `allowed_length` long. Matches do not cross sequence breakers.
    """
    if multiplier <= 0 or len(history) < 2:
        return logits
    last = len(history) - 1
    worst: dict[int, int] = {}
    for end in range(last - 1, -1, -1):  # candidate earlier ending position
        length = 0
        while (
            length <= end and history[end - length] == history[last - length] and history[last - length] not in breakers
        ):
            length += 1
        if length >= allowed_length:
            follower = history[end + 1]
            if follower not in breakers:
                worst[follower] = max(worst.get(follower, 0), length)
    if not worst:
        return logits
    out = logits.clone()
    for token, length in worst.items():
        out[token] -= multiplier * base ** (length - allowed_length)
    return out


def exclude_top_choices(logits: torch.Tensor, threshold: float, probability: float, draw: float) -> torch.Tensor:
    """XTC: with chance `probability` (`draw` is a uniform random number), remove every token
    at or above `threshold` probability except the least likely of them."""
    if probability <= 0 or draw >= probability:
        return logits
    probs = torch.softmax(logits, dim=-1)
    above = (probs >= threshold).nonzero().flatten()
    if above.numel() < 2:
        return logits
    keep = above[torch.argmin(probs[above])]
    mask = torch.zeros_like(probs, dtype=torch.bool)
    mask[above] = True
    mask[keep] = False
    return logits.masked_fill(mask, NEG_INF)


def add_logit_bias(logits: torch.Tensor, bias: dict[int, float]) -> torch.Tensor:
    """Add per-token biases (-inf bans a token)."""
    if not bias:
        return logits
    out = logits.clone()
    for token, value in bias.items():
        if 0 <= token < out.numel():
            out[token] += value
    return out


def choose(logits: torch.Tensor, greedy: bool, generator: torch.Generator | None) -> int:
    """The argmax, or a draw from softmax(logits)."""
    if greedy:
        return int(torch.argmax(logits))
    probs = torch.softmax(logits.float(), dim=-1)
    return int(torch.multinomial(probs, 1, generator=generator))
