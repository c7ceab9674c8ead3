"""Token logprobs: the pure log-softmax, and the llama.cpp backend reporting them on the bundled model."""

from __future__ import annotations

import math

import numpy as np
import pytest

from backends.base import GenerationRequest
from backends.logprobs import log_softmax, token_logprob
from backends.sampling import GREEDY

PROMPT = (
    "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n"
    "<|im_start|>assistant\n"
)


def test_log_softmax_of_a_hand_built_distribution() -> None:
    result = log_softmax(np.array([0.0, math.log(3.0), -np.inf], dtype=np.float32))
    assert np.exp(result[:2]) == pytest.approx([0.25, 0.75])
    assert result[2] == -np.inf


def test_token_logprob_lists_the_most_likely_first() -> None:
    logprobs = log_softmax(np.array([1.0, 3.0, 2.0, 0.0]))
    item = token_logprob(logprobs, 2, 3, lambda token: f"t{token}")
    assert (item.token_id, item.text) == (2, "t2") and item.logprob == pytest.approx(logprobs[2])
    assert [token for token, _, _ in item.top] == [1, 2, 0]
    assert token_logprob(logprobs, 2, 0, str).top == ()


def test_request_logprobs_range_is_checked() -> None:
    with pytest.raises(ValueError, match="logprobs"):
        GenerationRequest(prompt="x", logprobs=21)


@pytest.mark.slow
def test_llama_cpp_reports_the_models_distribution(llama_backend) -> None:
    params = GREEDY.model_copy(update={"max_new_tokens": 6, "ban_eos_token": True})
    chunks = list(llama_backend.generate(GenerationRequest(prompt=PROMPT, params=params, logprobs=5)))
    scored = [item for chunk in chunks for item in chunk.logprobs]
    tokens = [token for chunk in chunks for token in chunk.token_ids]
    assert [item.token_id for item in scored] == tokens and len(tokens) == 6
    for item in scored:
        assert len(item.top) == 5 and item.top[0][0] == item.token_id  # greedy picks the most likely
        assert [lp for _, _, lp in item.top] == sorted((lp for _, _, lp in item.top), reverse=True)
        assert sum(math.exp(lp) for _, _, lp in item.top) <= 1.0 + 1e-9 and item.logprob <= 0.0
    plain = list(llama_backend.generate(GenerationRequest(prompt=PROMPT, params=params)))
    assert all(chunk.logprobs == () for chunk in plain)
    assert [t for c in plain for t in c.token_ids] == tokens  # asking for logprobs does not change the output
