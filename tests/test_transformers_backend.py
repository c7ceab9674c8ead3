"""The PyTorch/transformers backend on the bundled model (dequantized GGUF) and HF folders."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from backends.base import FinishReason, GenerationRequest
from backends.errors import ModelLoadError
from backends.loader import LoadOptions, load_backend
from backends.sampling import GREEDY, SamplingParams
from tests.conftest import REPO
from webui.generation import GenerationStream
from webui.presets import PresetLibrary

pytestmark = pytest.mark.slow
PROMPT = (
    "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n"
    "<|im_start|>user\nWhat is the capital of France?<|im_end|>\n<|im_start|>assistant\n"
)


def tokens_and_text(backend, params: SamplingParams, prompt: str | list[int] = PROMPT):
    chunks = list(backend.generate(GenerationRequest(prompt=prompt, params=params)))
    return [t for c in chunks for t in c.token_ids], "".join(c.text for c in chunks), chunks[-1]


def test_answers_paris_and_agrees_with_llama_cpp(hf_backend, llama_backend) -> None:
    ids = llama_backend.tokenize(PROMPT)
    assert hf_backend.tokenize(PROMPT) == ids
    _, hf_text, _ = tokens_and_text(hf_backend, GREEDY.model_copy(update={"max_new_tokens": 16}), ids)
    assert "Paris" in hf_text
    # The same weights: greedy continuations of a fixed prompt agree token for token.
    fixed = llama_backend.tokenize("The days of the week are Monday, Tuesday, Wednesday,", special=False)
    params = GREEDY.model_copy(update={"max_new_tokens": 16, "ban_eos_token": True})
    hf_tokens, _, _ = tokens_and_text(hf_backend, params, fixed)
    cpp_tokens, _, _ = tokens_and_text(llama_backend, params, fixed)
    assert len(hf_tokens) == 16
    assert hf_tokens == cpp_tokens


def test_prefix_reuse_feeds_only_new_tokens(hf_backend) -> None:
    params = GREEDY.model_copy(update={"max_new_tokens": 8})
    first_ids = hf_backend.tokenize(PROMPT)
    _, text, _ = tokens_and_text(hf_backend, params, first_ids)
    follow = PROMPT + text + "<|im_end|>\n<|im_start|>user\nAnd of Italy?<|im_end|>\n<|im_start|>assistant\n"
    follow_ids = hf_backend.tokenize(follow)
    _, _, final = tokens_and_text(hf_backend, params, follow_ids)
    assert final.timings.cached_tokens >= len(first_ids)
    assert final.timings.evaluated_prompt_tokens == len(follow_ids) - final.timings.cached_tokens
    assert final.timings.evaluated_prompt_tokens < len(follow_ids) - len(first_ids) + 10


def test_cancel_and_seeds(hf_backend) -> None:
    cancel = threading.Event()
    stream = hf_backend.generate(GenerationRequest(prompt=PROMPT, params=SamplingParams(max_new_tokens=500)), cancel)
    next(stream)
    cancel.set()
    rest = list(stream)
    assert rest[-1].finish_reason is FinishReason.CANCELLED and len(rest) <= 2
    params = SamplingParams(seed=11, max_new_tokens=20, temperature=1.0)
    assert tokens_and_text(hf_backend, params)[0] == tokens_and_text(hf_backend, params)[0]
    greedy = tokens_and_text(hf_backend, GREEDY.model_copy(update={"max_new_tokens": 20}))[0]
    assert tokens_and_text(hf_backend, SamplingParams(temperature=3.0, top_k=1, max_new_tokens=20))[0] == greedy
    deterministic = PresetLibrary(REPO / "presets").load("Deterministic").apply()
    assert tokens_and_text(hf_backend, deterministic.model_copy(update={"max_new_tokens": 20}))[0] == greedy


def test_unsupported_fields_are_reported(hf_backend) -> None:
    request = GenerationRequest(prompt=PROMPT, params=SamplingParams(mirostat_mode=2, max_new_tokens=2))
    stream = GenerationStream(hf_backend, request)
    list(stream)
    assert stream.completion.ignored_fields == ("mirostat_mode",)


def test_hf_folder_saved_by_the_test_loads_and_generates(hf_backend, tmp_path: Path) -> None:
    from transformers import AutoModelForCausalLM

    folder = tmp_path / "smollm-hf"
    config = copy.deepcopy(hf_backend.model.config)
    config.__dict__.pop("quantization_config", None)  # a GGUF-loaded model is not serialisable as such
    plain = AutoModelForCausalLM.from_config(config)
    plain.load_state_dict(hf_backend.model.state_dict())
    plain.save_pretrained(folder, safe_serialization=True)
    hf_backend.tokenizer.save_pretrained(folder)
    assert any(p.suffix == ".safetensors" for p in folder.iterdir())
    backend = load_backend(folder, "auto", LoadOptions(n_ctx=1024))
    try:
        assert backend.name == "transformers"
        _, text, _ = tokens_and_text(backend, GREEDY.model_copy(update={"max_new_tokens": 12}))
        assert "Paris" in text
    finally:
        backend.unload()
    weights = next(p for p in folder.iterdir() if p.suffix == ".safetensors")
    weights.write_bytes(weights.read_bytes()[:1000])  # a corrupt (truncated) shard
    with pytest.raises(ModelLoadError, match="transformers could not load it"):
        load_backend(folder)


def test_bad_folders_are_refused_clearly(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ModelLoadError, match=r"no config\.json"):
        load_backend(empty)
    pickled = tmp_path / "pickled"
    pickled.mkdir()
    (pickled / "config.json").write_text(json.dumps({"model_type": "llama"}))
    (pickled / "pytorch_model.bin").write_bytes(b"\x80\x04not really a pickle")
    with pytest.raises(ModelLoadError, match="pickle"):
        load_backend(pickled)
    unknown = tmp_path / "unknown"
    unknown.mkdir()
    (unknown / "config.json").write_text(json.dumps({"model_type": "no-such-architecture"}))
    (unknown / "model.safetensors").write_bytes(b"garbage")
    with pytest.raises(ModelLoadError, match="transformers could not load it"):
        load_backend(unknown)
    with pytest.raises(ModelLoadError, match="no CUDA device"):
        load_backend(unknown, "transformers", LoadOptions(device="cuda"))
    with pytest.raises(ModelLoadError, match="4bit loading needs an NVIDIA GPU"):
        load_backend(unknown, "transformers", LoadOptions(load_in="4bit"))


def test_the_app_starts_without_importing_torch(model_path: Path) -> None:
    code = (
        "import sys\n"
        "from webui.app import build_app\nfrom webui.settings import Settings\nfrom webui.ui import build_ui\n"
        "app = build_app(Settings())\nassert app.load_initial_model()\nbuild_ui(app)\n"
        "print('torch' in sys.modules)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert result.stdout.strip().splitlines()[-1] == "False", result.stderr[-2000:]


MEMORY_CHECK = """
import gc, json, psutil, torch, transformers
from backends.loader import LoadOptions, bundled_model_path, load_backend
process = psutil.Process()
gc.collect()
before = process.memory_info().rss
samples = []
for _ in range(2):
    backend = load_backend(bundled_model_path(), "transformers", LoadOptions(n_ctx=1024))
    loaded = process.memory_info().rss
    backend.unload()
    del backend
    gc.collect()
    samples.append((loaded, process.memory_info().rss))
print(json.dumps([before, samples]))
"""


def test_unloading_gives_the_memory_back() -> None:
    result = subprocess.run([sys.executable, "-c", MEMORY_CHECK], cwd=REPO, capture_output=True, text=True, timeout=600)
    before, samples = json.loads(result.stdout.strip().splitlines()[-1])
    (loaded, after_first), (loaded_again, after_second) = samples
    # The first cycle also pays one-time costs that stay (the modules transformers imports while
    # loading, the allocator's arenas): most of it, the weights, must still come back.
    assert after_first - before < 0.5 * (loaded - before), (before, samples)
    # From then on, unloading gives back what a load takes, and nothing accumulates.
    assert after_second - after_first < 0.1 * (loaded_again - after_first), (before, samples)
    assert after_second < after_first * 1.1, "a second load and unload does not leak"


def test_json_schema_and_grammar_constrain_the_output(hf_backend) -> None:
    import jsonschema

    schema = {
        "type": "object",
        "properties": {"name": {"type": "string", "maxLength": 20}, "age": {"type": "integer"}},
        "required": ["name", "age"],
    }
    prompt = "<|im_start|>user\nGive me a person as JSON with name and age.<|im_end|>\n<|im_start|>assistant\n"
    _, text, _ = tokens_and_text(
        hf_backend, GREEDY.model_copy(update={"json_schema": schema, "max_new_tokens": 60}), prompt
    )
    jsonschema.validate(json.loads(text), schema)
    _, text, _ = tokens_and_text(hf_backend, SamplingParams(grammar='root ::= ("yes" | "no") "."', seed=2), PROMPT)
    assert text in ("yes.", "no.")


def test_high_repetition_penalty_reduces_repeats(hf_backend) -> None:
    from collections import Counter

    def repeats(ids: list[int]) -> int:
        counts = Counter(tuple(ids[i : i + 3]) for i in range(len(ids) - 2))
        return sum(c - 1 for c in counts.values() if c > 1)

    base = GREEDY.model_copy(update={"max_new_tokens": 200, "ban_eos_token": True})
    prompt = "<|im_start|>user\nWrite a story about a dragon.<|im_end|>\n<|im_start|>assistant\n"
    plain = tokens_and_text(hf_backend, base, prompt)[0]
    penalised = tokens_and_text(hf_backend, base.model_copy(update={"repetition_penalty": 1.5}), prompt)[0]
    assert repeats(penalised) < repeats(plain) / 2


def test_logprobs_agree_with_llama_cpp(hf_backend, llama_backend) -> None:
    ids = llama_backend.tokenize(PROMPT)
    params = GREEDY.model_copy(update={"max_new_tokens": 4, "ban_eos_token": True})
    request = GenerationRequest(prompt=ids, params=params, logprobs=3)
    hf = [item for chunk in hf_backend.generate(request) for item in chunk.logprobs]
    cpp = [item for chunk in llama_backend.generate(request) for item in chunk.logprobs]
    assert [item.token_id for item in hf] == [item.token_id for item in cpp] and len(hf) == 4
    for ours, theirs in zip(hf, cpp, strict=True):
        assert ours.top[0][0] == ours.token_id  # greedy picks the most likely
        assert ours.logprob == pytest.approx(theirs.logprob, abs=0.1)  # the same weights, dequantized
