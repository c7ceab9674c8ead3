"""Streaming speed through Jielong's OpenAI-compatible API vs. llama-cpp-python's own server vs. in-process.

In one run on the bundled model, same threads, same prompt, greedy, end-of-text banned so that every
run generates the same number of tokens. Both servers run side by side (idle) and the three are measured
in interleaved rounds; all three keep their KV prefix cache between rounds.

    .venv/bin/python -m bench.api [--tokens 128] [--rounds 3] [--threads 2]

Goals (issue 7): API tokens/s >= 0.95x in-process and >= llama-cpp-python's server; TTFT overhead <= 20 ms.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from backends.base import GenerationRequest
from backends.llama_cpp import LlamaCppBackend, LlamaCppConfig, load_llama_cpp
from backends.loader import bundled_model_path
from backends.sampling import GREEDY

REPO = Path(__file__).resolve().parent.parent
PROMPT = "Once upon a time, in a small village by the sea, there lived"
END_TOKENS = {"0": -100.0, "2": -100.0}  # SmolLM2's <|endoftext|> and <|im_end|>: banned, so runs have equal length


@dataclass(frozen=True)
class Run:
    """One streamed generation."""

    ttft: float  # seconds from sending the request to the first token
    tokens_per_second: float  # after the first token
    tokens: int


def summarise(name: str, runs: list[Run]) -> tuple[float, float]:
    """Print and return the median tokens/s and TTFT."""
    tps = statistics.median(run.tokens_per_second for run in runs)
    ttft = statistics.median(run.ttft for run in runs)
    print(f"{name:<28} {tps:8.1f} tok/s   TTFT {ttft * 1000:7.1f} ms   ({runs[0].tokens} tokens, {len(runs)} runs)")
    return tps, ttft


def in_process_run(backend: LlamaCppBackend, tokens: int) -> Run:
    """One generation through Jielong's llama.cpp backend called directly (no HTTP)."""
    params = GREEDY.model_copy(update={"max_new_tokens": tokens, "logit_bias": {0: -100.0, 2: -100.0}})
    started = time.perf_counter()
    first = last = 0.0
    count = 0
    for chunk in backend.generate(GenerationRequest(prompt=PROMPT, params=params)):
        if chunk.token_ids:
            count += 1
            last = time.perf_counter()
            first = first or last
    return Run(first - started, (count - 1) / (last - first), count)


def stream_http(client: httpx.Client, url: str, body: dict) -> Run:
    """Stream one /v1/completions request over SSE; count the chunks that carry text.

    One long-lived client (connection kept alive): building an httpx client per request costs tens of ms.
    """
    started = time.perf_counter()
    first = last = 0.0
    count = 0
    with client.stream("POST", url + "/v1/completions", json=body, timeout=300) as response:
        response.raise_for_status()
        for line in response.iter_lines():
            if not line.startswith("data: ") or line == "data: [DONE]":
                continue
            choices = json.loads(line[6:]).get("choices") or []
            if choices and choices[0].get("text"):
                count += 1
                last = time.perf_counter()
                first = first or last
    return Run(first - started, (count - 1) / (last - first), count)


def wait_until_up(url: str, process: subprocess.Popen, log: Path, timeout: float = 180) -> None:
    """Poll `url` until it answers."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited:\n{log.read_text(errors='replace')[-3000:]}")
        try:
            httpx.get(url, timeout=2)
            return
        except httpx.HTTPError:
            time.sleep(0.3)
    raise RuntimeError(f"server did not start:\n{log.read_text(errors='replace')[-3000:]}")


def free_port() -> int:
    """A free loopback port."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start(command: list[str], url: str, workdir: Path) -> subprocess.Popen:
    """Start a server and wait until it answers."""
    log = workdir / f"server-{free_port()}.log"
    env = {**os.environ, "GRADIO_ANALYTICS_ENABLED": "False", "PYTHONPATH": str(REPO)}
    with log.open("wb") as out:
        process = subprocess.Popen(command, cwd=REPO, stdout=out, stderr=subprocess.STDOUT, env=env)
    try:
        wait_until_up(url + "/v1/models", process, log)
    except BaseException:
        process.kill()
        raise
    return process


def main(argv: list[str] | None = None) -> int:
    """Run the three measurements and print the ratios."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokens", type=int, default=128)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    model = bundled_model_path()
    body = {
        "prompt": PROMPT,
        "max_tokens": args.tokens,
        "temperature": 0,
        "stream": True,
        "logit_bias": END_TOKENS,
        "top_k": 1,
    }
    print(f"bundled model {model.name}, {args.tokens} tokens, {args.threads} threads, greedy")
    local: list[Run] = []
    reference: list[Run] = []
    api: list[Run] = []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        llama_port, api_port = free_port(), free_port()
        llama_url, api_url = f"http://127.0.0.1:{llama_port}", f"http://127.0.0.1:{api_port}"
        llama_cmd = [sys.executable, "-m", "llama_cpp.server", "--model", str(model), "--port", str(llama_port)]
        llama_cmd += ["--n_ctx", "2048", "--n_threads", str(args.threads), "--n_threads_batch", str(args.threads)]
        jielong_cmd = [sys.executable, str(REPO / "server.py"), "--api", "--api-port", str(api_port)]
        jielong_cmd += ["--port", str(free_port()), "--threads", str(args.threads), "--n-ctx", "2048"]
        jielong_cmd += ["--user-data-dir", str(work / "user_data")]
        servers = [start(llama_cmd, llama_url, work), start(jielong_cmd, api_url, work)]
        backend = load_llama_cpp(LlamaCppConfig(model_path=model, n_ctx=2048, n_threads=args.threads))
        client = httpx.Client()
        try:
            # Interleaved rounds (idle servers use no CPU), so that load drift on the machine hits all three alike.
            for index in range(args.rounds + 1):
                runs = (
                    in_process_run(backend, args.tokens),
                    stream_http(client, llama_url, {**body, "model": model.name, "repeat_penalty": 1.0}),
                    stream_http(client, api_url, {**body, "model": model.name, "repetition_penalty": 1.0}),
                )
                if index:  # the first round warms up (and fills each prefix cache)
                    for target, run in zip((local, reference, api), runs, strict=True):
                        target.append(run)
        finally:
            client.close()
            backend.unload()
            for process in servers:
                process.terminate()
                process.wait(timeout=30)
    local_tps, local_ttft = summarise("in-process (Jielong backend)", local)
    ref_tps, ref_ttft = summarise("llama-cpp-python server", reference)
    api_tps, api_ttft = summarise("Jielong API", api)
    print(f"API / in-process tokens/s:   {api_tps / local_tps:.3f}   (goal >= 0.95)")
    print(f"API / llama-cpp server tok/s: {api_tps / ref_tps:.3f}   (goal >= 1.0)")
    print(f"API TTFT overhead vs in-process: {(api_ttft - local_ttft) * 1000:+.1f} ms   (goal <= 20 ms)")
    print(f"llama-cpp server TTFT overhead:  {(ref_ttft - local_ttft) * 1000:+.1f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
