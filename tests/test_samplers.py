"""Each sampler stage, as a pure function, on hand-built distributions."""

from __future__ import annotations

import math

import pytest
import torch

from backends import samplers

# probabilities 0.5, 0.25, 0.125, 0.0625, 0.0625
PROBS = torch.tensor([0.5, 0.25, 0.125, 0.0625, 0.0625])
LOGITS = torch.log(PROBS)


def kept(logits: torch.Tensor) -> list[int]:
    return torch.isfinite(logits).nonzero().flatten().tolist()


def test_min_p_keeps_exactly_tokens_at_least_min_p_times_the_top() -> None:
    assert kept(samplers.keep_min_p(LOGITS, 0.25)) == [0, 1, 2]  # >= 0.125
    assert kept(samplers.keep_min_p(LOGITS, 0.26)) == [0, 1]
    assert kept(samplers.keep_min_p(LOGITS, 0.0)) == [0, 1, 2, 3, 4]


def test_top_k() -> None:
    assert kept(samplers.keep_top_k(LOGITS, 1)) == [int(torch.argmax(LOGITS))]
    assert kept(samplers.keep_top_k(LOGITS, 3)) == [0, 1, 2]
    assert kept(samplers.keep_top_k(LOGITS, 0)) == [0, 1, 2, 3, 4]


def test_top_k_5_leaves_five_renormalised() -> None:
    logits = torch.log(torch.softmax(torch.arange(20, dtype=torch.float32), dim=-1))
    probs = torch.softmax(samplers.keep_top_k(logits, 5), dim=-1)
    assert (probs > 0).sum() == 5
    assert math.isclose(float(probs.sum()), 1.0, rel_tol=1e-6)


def test_top_p_keeps_the_smallest_set_reaching_p() -> None:
    assert kept(samplers.keep_top_p(LOGITS, 0.5)) == [0]
    assert kept(samplers.keep_top_p(LOGITS, 0.6)) == [0, 1]
    assert kept(samplers.keep_top_p(LOGITS, 0.75)) == [0, 1]
    assert kept(samplers.keep_top_p(LOGITS, 0.8)) == [0, 1, 2]
    assert kept(samplers.keep_top_p(LOGITS, 1.0)) == [0, 1, 2, 3, 4]


def test_temperature_to_zero_is_greedy_and_scales_otherwise() -> None:
    assert kept(samplers.apply_temperature(LOGITS, 0.0)) == [0]
    hot = torch.softmax(samplers.apply_temperature(LOGITS, 2.0), dim=-1)
    cold = torch.softmax(samplers.apply_temperature(LOGITS, 0.5), dim=-1)
    assert hot[0] < PROBS[0] < cold[0]


def test_typical_keeps_tokens_near_the_expected_surprise() -> None:
    # entropy of PROBS is 1.875 bits-ish in nats: the 0.25 token is the most "typical"
    result = kept(samplers.keep_typical(LOGITS, 0.2))
    assert result == [1]


def test_repetition_presence_frequency_penalties() -> None:
    logits = torch.tensor([2.0, -2.0, 1.0])
    out = samplers.penalize_repetition(logits, [0, 1, 0], repeat=2.0, presence=0.0, frequency=0.0)
    assert out.tolist() == [1.0, -4.0, 1.0]
    out = samplers.penalize_repetition(logits, [0, 1, 0], repeat=1.0, presence=0.5, frequency=0.25)
    assert out.tolist() == [2.0 - 0.5 - 0.5, -2.0 - 0.5 - 0.25, 1.0]


def test_dry_penalises_continuing_a_repeated_sequence() -> None:
    # history: A B C D ... A B C  -> continuing with D would repeat "A B C D"
    history = [1, 2, 3, 4, 9, 9, 1, 2, 3]
    logits = torch.zeros(10)
    out = samplers.penalize_dry(logits, history, multiplier=1.0, base=2.0, allowed_length=2, breakers=set())
    assert out[4] < 0  # D is penalised
    assert out[4] == -(2.0 ** (3 - 2))
    assert out[5] == 0 and out[1] == 0
    short = samplers.penalize_dry(logits, history, multiplier=1.0, base=2.0, allowed_length=4, breakers=set())
    assert short[4] == 0  # a 3-token repeat is allowed when allowed_length is 4
    broken = samplers.penalize_dry(logits, history, multiplier=1.0, base=2.0, allowed_length=2, breakers={2})
    assert broken[4] == 0  # a sequence breaker inside the match stops it


def test_xtc_removes_all_top_choices_but_the_least_likely() -> None:
    out = samplers.exclude_top_choices(LOGITS, threshold=0.2, probability=1.0, draw=0.5)
    assert kept(out) == [1, 2, 3, 4]
    assert samplers.exclude_top_choices(LOGITS, 0.2, probability=0.3, draw=0.5) is LOGITS  # not drawn
    assert kept(samplers.exclude_top_choices(LOGITS, 0.4, 1.0, 0.0)) == [0, 1, 2, 3, 4]  # one above: unchanged


def test_dynamic_temperature_is_hotter_when_uncertain() -> None:
    sure = torch.log(torch.tensor([0.97, 0.01, 0.01, 0.01]))
    unsure = torch.log(torch.tensor([0.25, 0.25, 0.25, 0.25]))
    low_t = samplers.dynamic_temperature(sure, 0.5, 2.0, 1.0)
    assert torch.softmax(low_t, -1)[0] > 0.97  # low entropy -> temperature near 0.5 sharpens
    assert torch.allclose(
        torch.softmax(samplers.dynamic_temperature(unsure, 0.5, 2.0, 1.0), -1), torch.full((4,), 0.25)
    )


def test_logit_bias_and_choice() -> None:
    biased = samplers.add_logit_bias(LOGITS, {4: 100.0, 0: float("-inf")})
    assert samplers.choose(biased, greedy=True, generator=None) == 4
    generator = torch.Generator().manual_seed(0)
    draws = {samplers.choose(LOGITS, greedy=False, generator=generator) for _ in range(200)}
    assert draws == {0, 1, 2, 3, 4}


@pytest.mark.parametrize("seed", [1, 2])
def test_same_seed_same_draws(seed: int) -> None:
    first = [samplers.choose(LOGITS, False, torch.Generator().manual_seed(seed)) for _ in range(5)]
    second = [samplers.choose(LOGITS, False, torch.Generator().manual_seed(seed)) for _ in range(5)]
    assert first == second
