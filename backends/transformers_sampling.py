"""Run the pure sampler stages of `backends.samplers` in `sampler_priority` order."""

from __future__ import annotations

import random
from collections.abc import Iterable, Sequence

import torch

from backends import samplers
from backends.base import LogitsProcessor, run_logits_processors
from backends.sampling import SamplingParams
from backends.transformers_grammar import GrammarConstraint


class SamplingPipeline:
    """Chooses tokens one after another for one generation."""

    def __init__(
        self,
        params: SamplingParams,
        eog_ids: Iterable[int],
        prompt_ids: Sequence[int],
        constraint: GrammarConstraint | None = None,
        processors: Sequence[LogitsProcessor] = (),
    ) -> None:
        self.params = params
        self.processors = tuple(processors)
        self.constraint = constraint
        self.history = list(prompt_ids)
        self.bias = dict(params.logit_bias)
        if params.ban_eos_token:
            self.bias.update({token: float("-inf") for token in eog_ids})
        seed = params.seed if params.seed >= 0 else random.randrange(2**32 - 1)
        self.generator = torch.Generator().manual_seed(seed)
        self.draws = random.Random(seed)
        self.order = params.stage_order()
        self.breakers: set[int] = set()

    def next_token(self, logits: torch.Tensor) -> int:
        """Apply the stages to `logits` and pick a token; it joins the history."""
        p = self.params
        logits = logits.cpu()
        if self.processors:
            processed = run_logits_processors(self.processors, self.history, logits.float().numpy().copy())
            logits = torch.from_numpy(processed).to(logits.dtype)
        logits = samplers.add_logit_bias(logits, self.bias)
        if self.constraint is not None:
            logits = self.constraint.mask(logits)
        window = self.history[-p.repetition_penalty_range :] if p.repetition_penalty_range else self.history
        for stage in self.order:
            if stage == "penalties":
                logits = samplers.penalize_repetition(
                    logits, window, p.repetition_penalty, p.presence_penalty, p.frequency_penalty
                )
            elif stage == "dry":
                logits = samplers.penalize_dry(
                    logits, window[-512:], p.dry_multiplier, p.dry_base, p.dry_allowed_length, self.breakers
                )
            elif p.is_greedy:
                continue
            elif stage == "top_k":
                logits = samplers.keep_top_k(logits, p.top_k)
            elif stage == "typical_p":
                logits = samplers.keep_typical(logits, p.typical_p)
            elif stage == "top_p":
                logits = samplers.keep_top_p(logits, p.top_p)
            elif stage == "min_p":
                logits = samplers.keep_min_p(logits, p.min_p)
            elif stage == "xtc":
                logits = samplers.exclude_top_choices(logits, p.xtc_threshold, p.xtc_probability, self.draws.random())
            elif stage == "temperature":
                if p.uses_dynamic_temperature:
                    logits = samplers.dynamic_temperature(logits, p.dynatemp_low, p.dynatemp_high, p.dynatemp_exponent)
                else:
                    logits = samplers.apply_temperature(logits, p.temperature)
        token = samplers.choose(logits, p.is_greedy, self.generator)
        self.history.append(token)
        if self.constraint is not None:
            self.constraint.accept(token)
        return token
