"""Next-token distributions: the top tokens raw, and after each sampler stage of a preset, renormalized.

The stages are the pure functions of `backends.samplers` (the ones the transformers backend samples
with), applied in `SamplingParams.stage_order()` order, so what is shown is what the sampler does.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from backends.sampling import SamplingParams

TOP_N = 20


@dataclass(frozen=True)
class Candidate:
    """One possible next token and its probability."""

    token_id: int
    probability: float


@dataclass(frozen=True)
class StageView:
    """The distribution after one stage: how many tokens are still possible, and the most likely ones."""

    name: str  # "raw", or a stage name such as "top_k"
    setting: str  # the parameter value that acted, e.g. "top_k=40"
    kept: int  # tokens with a probability above zero
    top: tuple[Candidate, ...]


def probabilities(logits: np.ndarray) -> np.ndarray:
    """Softmax of logits (float64; -inf logits get probability 0)."""
    values = np.asarray(logits, dtype=np.float64)
    shifted = np.exp(values - np.max(values))
    return shifted / shifted.sum()


def top_candidates(logits: np.ndarray, n: int = TOP_N) -> tuple[Candidate, ...]:
    """The `n` most likely tokens with their (renormalized) probabilities, most likely first."""
    probs = probabilities(logits)
    count = min(n, int(np.count_nonzero(probs)))
    order = np.argsort(-probs, kind="stable")[:count]
    return tuple(Candidate(int(token), float(probs[token])) for token in order)


def _stage_function(stage: str, p: SamplingParams, history: Sequence[int]) -> tuple[Callable, str] | None:
    """The sampler function of one stage and its setting, or None when the stage does nothing here."""
    from backends import samplers  # imports torch: only when a distribution is shown

    window = list(history[-p.repetition_penalty_range :] if p.repetition_penalty_range else history)
    if stage == "penalties" and (p.repetition_penalty != 1 or p.presence_penalty or p.frequency_penalty):
        setting = f"repetition={p.repetition_penalty} presence={p.presence_penalty} frequency={p.frequency_penalty}"
        return (
            lambda x: samplers.penalize_repetition(
                x, window, p.repetition_penalty, p.presence_penalty, p.frequency_penalty
            ),
            setting,
        )
    if stage == "dry" and p.dry_multiplier > 0:
        return (
            lambda x: samplers.penalize_dry(
                x, window[-512:], p.dry_multiplier, p.dry_base, p.dry_allowed_length, set()
            ),
            f"dry_multiplier={p.dry_multiplier}",
        )
    if stage == "top_k" and p.top_k > 0:
        return (lambda x: samplers.keep_top_k(x, p.top_k), f"top_k={p.top_k}")
    if stage == "typical_p" and p.typical_p < 1:
        return (lambda x: samplers.keep_typical(x, p.typical_p), f"typical_p={p.typical_p}")
    if stage == "top_p" and p.top_p < 1:
        return (lambda x: samplers.keep_top_p(x, p.top_p), f"top_p={p.top_p}")
    if stage == "min_p" and p.min_p > 0:
        return (lambda x: samplers.keep_min_p(x, p.min_p), f"min_p={p.min_p}")
    if stage == "xtc" and p.xtc_probability > 0:  # shown as when it fires (it fires with xtc_probability)
        return (
            lambda x: samplers.exclude_top_choices(x, p.xtc_threshold, p.xtc_probability, 0.0),
            f"xtc_threshold={p.xtc_threshold} (when it fires, {p.xtc_probability:.0%} of the time)",
        )
    if stage == "temperature":
        if p.uses_dynamic_temperature:
            return (
                lambda x: samplers.dynamic_temperature(x, p.dynatemp_low, p.dynatemp_high, p.dynatemp_exponent),
                f"dynamic temperature {p.dynatemp_low}..{p.dynatemp_high}",
            )
        return (lambda x: samplers.apply_temperature(x, p.temperature), f"temperature={p.temperature}")
    return None


def stage_views(
    logits: np.ndarray, params: SamplingParams, history: Sequence[int] = (), n: int = TOP_N
) -> list[StageView]:
    """The top-`n` distribution raw, then after each active stage in `params.stage_order()` order."""
    import torch

    from backends import samplers

    current = torch.from_numpy(np.asarray(logits, dtype=np.float32).copy())
    views = [StageView("raw", "", int(current.numel()), top_candidates(current.numpy(), n))]
    if params.logit_bias:
        current = samplers.add_logit_bias(current, dict(params.logit_bias))
        views.append(_view("logit_bias", f"{len(params.logit_bias)} biases", current, n))
    for stage in params.stage_order():
        found = _stage_function(stage, params, history)
        if found is None:
            continue
        function, setting = found
        current = function(current)
        views.append(_view(stage, setting, current, n))
    return views


def _view(name: str, setting: str, logits: object, n: int) -> StageView:
    values = logits.numpy()  # type: ignore[attr-defined]
    kept = int(np.count_nonzero(probabilities(values)))
    return StageView(name, setting, kept, top_candidates(values, n))


def final_logits(logits: np.ndarray, params: SamplingParams, history: Sequence[int] = ()) -> np.ndarray:
    """The logits after every stage: what a token is drawn from."""
    import torch

    from backends import samplers

    current = samplers.add_logit_bias(torch.from_numpy(np.asarray(logits, dtype=np.float32).copy()), params.logit_bias)
    for stage in params.stage_order():
        found = _stage_function(stage, params, history)
        if found is not None:
            current = found[0](current)
    return current.numpy()
