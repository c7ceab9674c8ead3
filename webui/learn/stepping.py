"""Stepping through a continuation one token at a time: a prompt and the tokens picked so far."""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from backends.sampling import SamplingParams
from webui.learn.distribution import final_logits, probabilities


@dataclass(frozen=True)
class Trail:
    """A prompt's token ids and the tokens chosen after it, one step at a time."""

    prompt_ids: tuple[int, ...]
    chosen: tuple[int, ...] = ()

    @property
    def ids(self) -> list[int]:
        """Everything the model sees for the next step."""
        return [*self.prompt_ids, *self.chosen]

    def pick(self, token_id: int) -> Trail:
        """Continue with `token_id`, whatever its probability."""
        return replace(self, chosen=(*self.chosen, token_id))

    def back(self) -> Trail:
        """Undo the last pick."""
        return replace(self, chosen=self.chosen[:-1])


def sample_next(logits: np.ndarray, params: SamplingParams, history: list[int], rng: np.random.Generator) -> int:
    """Pick a token as the preset would: greedy, or a draw from the distribution after every stage."""
    after = final_logits(logits, params, history)
    if params.is_greedy:
        return int(np.argmax(after))
    return int(rng.choice(len(after), p=probabilities(after)))
