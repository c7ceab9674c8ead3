"""The logits_processor hook on both local backends: a banned token never appears."""

from __future__ import annotations

from pathlib import Path

import pytest

from backends.base import GenerationRequest
from backends.sampling import GREEDY
from webui.extensions.manager import ExtensionManager

REPO = Path(__file__).resolve().parent.parent
PROMPT = "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\nCount from 1 to 9.<|im_end|>\n"
PROMPT += "<|im_start|>assistant\n"
PARAMS = GREEDY.model_copy(update={"max_new_tokens": 24})


def generated(backend, request: GenerationRequest) -> list[int]:
    return [token for chunk in backend.generate(request) for token in chunk.token_ids]


def check_bans(backend, tmp_path: Path) -> None:
    manager = ExtensionManager(REPO / "extensions", tmp_path / "user_data")
    manager.enable("example")
    baseline = generated(backend, GenerationRequest(PROMPT, PARAMS))
    banned = sorted(set(baseline[:6]))
    manager.set_params("example", {"banned_token_ids": ",".join(map(str, banned))})
    tokens = generated(backend, GenerationRequest(PROMPT, PARAMS, logits_processors=manager.logits_processors()))
    assert tokens, "the model still answers"
    assert not set(tokens) & set(banned), backend.detokenize(tokens)
    manager.set_params("example", {"banned_token_ids": ""})  # processors are read per token: no ban, same as before
    assert generated(backend, GenerationRequest(PROMPT, PARAMS, logits_processors=manager.logits_processors())) == (
        baseline
    )


@pytest.mark.slow
def test_banned_tokens_never_appear_with_llama_cpp(llama_backend, tmp_path: Path) -> None:
    check_bans(llama_backend, tmp_path)


@pytest.mark.slow
def test_banned_tokens_never_appear_with_transformers(hf_backend, tmp_path: Path) -> None:
    check_bans(hf_backend, tmp_path)


@pytest.mark.slow
def test_a_failing_processor_is_dropped_and_generation_goes_on(llama_backend, tmp_path: Path) -> None:
    root = tmp_path / "extensions"
    (root / "bad").mkdir(parents=True)
    (root / "bad" / "script.py").write_text("def logits_processor(ids, logits):\n    return logits[:10]\n")
    manager = ExtensionManager(root, tmp_path / "user_data")
    manager.enable("bad")
    errors: list[str] = []
    request = GenerationRequest(PROMPT, PARAMS, logits_processors=manager.logits_processors(errors))
    assert generated(llama_backend, request) == generated(llama_backend, GenerationRequest(PROMPT, PARAMS))
    assert len(errors) == 1 and "'bad', logits_processor" in errors[0] and "shape" in errors[0]
