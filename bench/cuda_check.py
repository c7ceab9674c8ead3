"""Exercise the transformers backend's CUDA path once: bf16, streaming, cancel, unload.

Run on a machine with an NVIDIA GPU (the test suite never needs one):

    .venv/bin/python -m bench.cuda_check

It prints the device, dtype, load time, tokens/s, the tokens left after a cancel,
and GPU memory before loading, after loading and after unloading.
"""

from __future__ import annotations

import threading
import time

import torch

from backends.base import GenerationRequest
from backends.loader import LoadOptions, bundled_model_path, load_backend
from backends.sampling import GREEDY

PROMPT = "<|im_start|>user\nWhat is the capital of France?<|im_end|>\n<|im_start|>assistant\n"


def main() -> None:
    """Run the check and print its figures; fail loudly if there is no CUDA device."""
    if not torch.cuda.is_available():
        raise SystemExit("no CUDA device: this check needs an NVIDIA GPU")
    memory = [torch.cuda.memory_allocated()]
    started = time.perf_counter()
    backend = load_backend(bundled_model_path(), "transformers", LoadOptions(device="cuda"))
    load_seconds = time.perf_counter() - started
    memory.append(torch.cuda.memory_allocated())
    print(f"device {torch.cuda.get_device_name()} dtype {backend.model.dtype} loaded in {load_seconds:.1f} s")

    params = GREEDY.model_copy(update={"max_new_tokens": 256, "ban_eos_token": True})
    chunks = list(backend.generate(GenerationRequest(prompt=PROMPT, params=params)))
    text = "".join(c.text for c in chunks)
    timings = chunks[-1].timings
    print(f"streamed {len(chunks) - 1} chunks, {timings.tokens_per_second:.1f} tokens/s; starts {text[:40]!r}")

    cancel = threading.Event()
    stream = backend.generate(GenerationRequest(prompt=PROMPT, params=params), cancel)
    next(stream)
    cancel.set()
    rest = list(stream)
    print(f"cancel: {len(rest) - 1} tokens after the cancel, finish={rest[-1].finish_reason.value}")

    backend.unload()
    memory.append(torch.cuda.memory_allocated())
    print(
        "GPU memory allocated (MiB): before {:.0f}, loaded {:.0f}, after unload {:.0f}".format(
            *(m / 2**20 for m in memory)
        )
    )


if __name__ == "__main__":
    main()
