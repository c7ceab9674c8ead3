"""The transformers backend on the bundled model (dequantized GGUF), in one run:

  * Jielong's decode loop vs. raw `model.generate()` (greedy, same prompt), tokens/s;
  * time to first token at chat turn 1 vs. turn 20 (prefix reuse);
  * vs. the llama.cpp backend on the same weights.

    .venv/bin/python -m bench.transformers [--tokens 128] [--rounds 3]

Goal (issue 5): Jielong / raw generate() >= 1.0.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from backends.base import GenerationRequest
from backends.loader import LoadOptions, bundled_model_path, load_backend
from backends.sampling import GREEDY
from bench.decode import grow_conversation, time_to_first_token
from webui.chat.conversation import Message
from webui.chat.engine import ChatEngine
from webui.model_manager import ModelManager

PROMPT = "Write a long story about a dragon who learns to cook."


def backend_rate(backend, ids: list[int], tokens: int) -> float:
    """Greedy tokens/s of a backend's own stream (after the first token)."""
    params = GREEDY.model_copy(update={"max_new_tokens": tokens, "ban_eos_token": True})
    first = last = 0.0
    count = 0
    for chunk in backend.generate(GenerationRequest(prompt=ids, params=params)):
        if chunk.token_ids:
            last = time.perf_counter()
            count += 1
            if count == 1:
                first = last
    return (count - 1) / (last - first)


def generate_rate(model, ids: list[int], tokens: int) -> float:
    """Greedy tokens/s of transformers' own generate(), measured with a streamer (after the first token)."""
    from transformers.generation.streamers import BaseStreamer

    class Clock(BaseStreamer):
        def __init__(self) -> None:
            self.times: list[float] = []

        def put(self, value: torch.Tensor) -> None:
            self.times.append(time.perf_counter())

        def end(self) -> None:
            pass

    clock = Clock()
    with torch.inference_mode():
        model.generate(
            torch.tensor([ids]), max_new_tokens=tokens, min_new_tokens=tokens, do_sample=False, streamer=clock
        )
    times = clock.times[1:]  # the first put() is the prompt
    return (len(times) - 1) / (times[-1] - times[0])


def main() -> None:
    """Run the benchmark and print the ratios."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tokens", type=int, default=128)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    path = bundled_model_path()
    models = ModelManager()
    models.load(path, "transformers", LoadOptions(n_ctx=4096))
    backend = models.loaded.backend
    engine = ChatEngine(models, "You are a helpful assistant.")
    messages = [Message(role="user", content=PROMPT)]
    ids = engine.build_prompt(messages, GREEDY).token_ids
    llama = load_backend(path, "llama.cpp", LoadOptions(n_ctx=4096))

    ours, raw, cpp = [], [], []
    for _ in range(args.rounds):  # interleaved, so machine noise hits all alike
        backend.clear_cache()
        ours.append(backend_rate(backend, ids, args.tokens))
        raw.append(generate_rate(backend.model, ids, args.tokens))
        llama.clear_cache()
        cpp.append(backend_rate(llama, ids, args.tokens))
    llama.unload()

    history = grow_conversation(engine, 19)
    turn20 = [*history, Message(role="user", content="And one fact about the number 20?")]
    ttft1, ttft20 = [], []
    for _ in range(args.rounds):
        backend.clear_cache()
        ttft1.append(time_to_first_token(engine, messages))
        list(engine.reply(history[:-1], GREEDY.model_copy(update={"max_new_tokens": 24})))
        ttft20.append(time_to_first_token(engine, turn20))
    ours_tps, raw_tps, cpp_tps = (statistics.median(x) for x in (ours, raw, cpp))
    t1, t20 = statistics.median(ttft1), statistics.median(ttft20)
    threads = torch.get_num_threads()
    print(f"bundled model via transformers (float32, CPU, {threads} threads), greedy {args.tokens} tokens")
    print(f"{'measure':40} {'value':>9}")
    print(f"{'raw model.generate() tokens/s':40} {raw_tps:9.1f}")
    print(f"{'Jielong transformers backend tokens/s':40} {ours_tps:9.1f}")
    print(f"{'Jielong llama.cpp backend tokens/s':40} {cpp_tps:9.1f}")
    print(f"{'TTFT turn 1 (s)':40} {t1:9.3f}")
    print(f"{'TTFT turn 20, prefix reuse (s)':40} {t20:9.3f}")
    print(f"ratio Jielong/raw generate()      = {ours_tps / raw_tps:.3f}   (goal >= 1.0)")
    print(f"ratio TTFT turn20/turn1           = {t20 / t1:.3f}")
    print(f"ratio transformers/llama.cpp      = {ours_tps / cpp_tps:.3f}")
    models.unload()


if __name__ == "__main__":
    main()
