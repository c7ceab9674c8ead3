"""Every sampling field honoured for real by the llama.cpp backend on the bundled model."""

from __future__ import annotations

import json
from collections import Counter

import jsonschema
import pytest

from backends.base import GenerationRequest
from backends.errors import InvalidRequest
from backends.sampling import GREEDY, SamplingParams
from tests.conftest import REPO
from webui.presets import PresetLibrary

pytestmark = pytest.mark.slow
PROMPT = "<|im_start|>user\nWrite a story about a dragon.<|im_end|>\n<|im_start|>assistant\n"


def run(backend, params: SamplingParams, prompt: str = PROMPT) -> tuple[list[int], str]:
    ids: list[int] = []
    text = []
    for chunk in backend.generate(GenerationRequest(prompt=prompt, params=params)):
        ids.extend(chunk.token_ids)
        text.append(chunk.text)
    return ids, "".join(text)


def repeated_ngrams(ids: list[int], n: int = 3) -> int:
    counts = Counter(tuple(ids[i : i + n]) for i in range(len(ids) - n + 1))
    return sum(c - 1 for c in counts.values() if c > 1)


def test_same_seed_and_preset_give_the_same_output(llama_backend) -> None:
    params = (
        PresetLibrary(REPO / "presets").load("Creative").apply().model_copy(update={"seed": 42, "max_new_tokens": 40})
    )
    assert run(llama_backend, params) == run(llama_backend, params)
    other = params.model_copy(update={"seed": 43})
    assert run(llama_backend, other)[0] != run(llama_backend, params)[0]


def test_deterministic_preset_and_top_k_1_equal_greedy(llama_backend) -> None:
    greedy = run(llama_backend, GREEDY.model_copy(update={"max_new_tokens": 40}))
    deterministic = PresetLibrary(REPO / "presets").load("Deterministic").apply()
    assert run(llama_backend, deterministic.model_copy(update={"max_new_tokens": 40})) == greedy
    hot_top1 = SamplingParams(temperature=3.0, top_k=1, seed=5, max_new_tokens=40)
    assert run(llama_backend, hot_top1) == greedy


def test_json_schema_output_validates(llama_backend) -> None:
    schema = {
        "type": "object",
        "properties": {"name": {"type": "string", "maxLength": 20}, "age": {"type": "integer"}},
        "required": ["name", "age"],
    }
    prompt = "<|im_start|>user\nGive me a person as JSON with name and age.<|im_end|>\n<|im_start|>assistant\n"
    _, text = run(llama_backend, GREEDY.model_copy(update={"json_schema": schema, "max_new_tokens": 80}), prompt)
    jsonschema.validate(json.loads(text), schema)


def test_gbnf_grammar_constrains_output(llama_backend) -> None:
    grammar = 'root ::= ("yes" | "no") "."'
    _, text = run(llama_backend, SamplingParams(grammar=grammar, seed=1, max_new_tokens=10))
    assert text in ("yes.", "no.")


def test_invalid_grammar_is_a_clear_error(llama_backend) -> None:
    with pytest.raises(InvalidRequest, match="grammar"):
        run(llama_backend, SamplingParams(grammar="root ::= (unclosed", max_new_tokens=5))


def test_high_repetition_penalty_reduces_repeated_ngrams(llama_backend) -> None:
    base = GREEDY.model_copy(update={"max_new_tokens": 200, "ban_eos_token": True})
    plain, _ = run(llama_backend, base)
    penalised, _ = run(llama_backend, base.model_copy(update={"repetition_penalty": 1.5}))
    dry, _ = run(llama_backend, base.model_copy(update={"dry_multiplier": 1.0}))
    assert repeated_ngrams(penalised) < repeated_ngrams(plain) / 2
    assert repeated_ngrams(dry) < repeated_ngrams(plain) / 2


def test_ban_eos_and_logit_bias(llama_backend) -> None:
    ids, _ = run(llama_backend, GREEDY.model_copy(update={"max_new_tokens": 60, "ban_eos_token": True}), "Hi")
    assert len(ids) == 60
    forced = llama_backend.tokenize(" banana", special=False)[0]
    ids, _ = run(llama_backend, GREEDY.model_copy(update={"max_new_tokens": 3, "logit_bias": {forced: 100.0}}))
    assert ids == [forced] * 3


@pytest.mark.parametrize(
    "update",
    [
        {"mirostat_mode": 2, "mirostat_tau": 3.0},
        {"mirostat_mode": 1},
        {"dynatemp_low": 0.5, "dynatemp_high": 1.5},
        {"xtc_probability": 1.0, "xtc_threshold": 0.05},
        {"typical_p": 0.5},
        {"presence_penalty": 1.5, "frequency_penalty": 1.0},
        {"sampler_priority": ["temperature", "min_p", "top_k"]},
    ],
)
def test_every_sampler_runs_and_is_reproducible(llama_backend, update: dict) -> None:
    params = SamplingParams(seed=9, max_new_tokens=30, **update)
    first = run(llama_backend, params)
    assert first[0] and first == run(llama_backend, params)


def test_xtc_changes_the_choice(llama_backend) -> None:
    base = SamplingParams(seed=3, max_new_tokens=30, temperature=1.0, top_k=0, top_p=1.0, min_p=0.0)
    assert run(llama_backend, base)[0] != run(llama_backend, base.model_copy(update={"xtc_probability": 1.0}))[0]
