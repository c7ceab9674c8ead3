"""Command-line flags -> Settings."""

from __future__ import annotations

import argparse
import os
from collections.abc import Sequence
from pathlib import Path

from backends.loader import LOADERS
from backends.remote_config import API_KEY_ENV
from webui.settings import Settings, make_settings, read_settings_file


def build_parser() -> argparse.ArgumentParser:
    """The `server.py` argument parser. Unset flags stay None so the settings file wins."""
    parser = argparse.ArgumentParser(
        prog="server.py",
        description="Jielong: chat with a local language model in your browser.",
        argument_default=None,
    )
    model = parser.add_argument_group("model")
    model.add_argument(
        "--model", type=Path, help="GGUF file, model folder, or a name from the models folder (default: the bundled)."
    )
    model.add_argument("--models-dir", type=Path, help="The models folder (default: models/).")
    model.add_argument("--loader", choices=LOADERS, help="Backend to load the model with (default: auto).")
    model.add_argument("--n-ctx", type=int, help="Context window in tokens (default 4096; 0: the model's own).")
    model.add_argument("--threads", type=int, help="CPU threads (default: all usable cores).")
    model.add_argument("--n-batch", type=int, help="Prompt-processing batch size (default 512).")
    model.add_argument("--n-gpu-layers", type=int, help="Layers to offload to a CUDA/Metal GPU (-1: all).")
    model.add_argument(
        "--no-mmap", dest="mmap", action="store_false", help="Read the model into RAM instead of mapping it."
    )
    model.add_argument("--mlock", action="store_true", help="Lock the model in RAM so it is never swapped out.")
    model.add_argument("--device", choices=("auto", "cuda", "mps", "cpu"), help="transformers: where to run.")
    model.add_argument(
        "--dtype", choices=("auto", "float32", "float16", "bfloat16"), help="transformers: weight type (auto)."
    )
    model.add_argument(
        "--trust-remote-code", action="store_true", help="transformers: run the model repository's own code."
    )
    model.add_argument(
        "--allow-pickle", action="store_true", help="transformers: load pickle weights (.bin/.pt), weights_only."
    )
    model.add_argument("--load-in", choices=("4bit", "8bit"), help="transformers: bitsandbytes quantization (CUDA).")
    remote = parser.add_argument_group("remote backend (--loader remote)")
    remote.add_argument("--remote-url", help="OpenAI-compatible server to stream from, e.g. http://127.0.0.1:8080/v1.")
    remote.add_argument(
        "--remote-api-key", help=f"API key for the remote server (default: the {API_KEY_ENV} environment variable)."
    )
    remote.add_argument("--remote-model", help="Remote model name (default: the first the server lists).")
    remote.add_argument("--remote-connect-timeout", type=float, help="Seconds to connect (default 10).")
    remote.add_argument("--remote-read-timeout", type=float, help="Seconds to wait for the next data (default 300).")
    remote.add_argument("--remote-max-retries", type=int, help="Retries of refused connections/502-504 (default 0).")
    model.add_argument("--chat-template", help="Use a named template (chatml, llama3, mistral, alpaca, gemma).")
    model.add_argument("--system-prompt", help="System prompt for new chats.")
    model.add_argument("--preset", help="Sampling preset from presets/ (e.g. Deterministic).")
    model.add_argument(
        "--extensions",
        type=lambda text: [name.strip() for name in text.split(",") if name.strip()],
        help="Extensions to enable, comma-separated folder names in extensions/ (e.g. example,rag).",
    )
    server = parser.add_argument_group("server")
    server.add_argument("--host", help="Address to listen on (default 127.0.0.1).")
    server.add_argument("--listen", action="store_true", help="Listen on all addresses (0.0.0.0); needs --auth.")
    server.add_argument("--port", type=int, help="Port of the web UI (default 7860).")
    server.add_argument("--auth", help="user:password required to open the UI.")
    server.add_argument("--settings", type=Path, help="A YAML file of settings; flags override it.")
    server.add_argument("--user-data-dir", type=Path, help="Where chats are saved (default user_data/).")
    api = parser.add_argument_group("OpenAI-compatible API")
    api.add_argument("--api", action="store_true", help="Serve the API on its own port (same host as the UI).")
    api.add_argument("--api-port", type=int, help="Port of the API (default 5000).")
    api.add_argument("--api-key", help="Key clients must send; required when listening beyond this machine.")
    api.add_argument("--max-queue", type=int, help="Generations that may wait for the model (default 64).")
    api.add_argument("--api-cors-origins", help="Comma-separated browser origins allowed to call the API.")
    parser.set_defaults(api=None, mmap=None, mlock=None, trust_remote_code=None, allow_pickle=None)
    return parser


def settings_from_args(argv: Sequence[str] | None = None) -> Settings:
    """Parse flags, merge them over the settings file, validate. Raises `SettingsError`."""
    args = vars(build_parser().parse_args(argv))
    values: dict[str, object] = {}
    settings_file = args.pop("settings")
    if settings_file is not None:
        values.update(read_settings_file(settings_file))
    if args.pop("listen"):
        args["host"] = "0.0.0.0"
    values.update({key: value for key, value in args.items() if value is not None})
    if values.get("remote_api_key") is None and os.environ.get(API_KEY_ENV):
        values["remote_api_key"] = os.environ[API_KEY_ENV]
    return make_settings(values, source=str(settings_file) if settings_file else "command line")
