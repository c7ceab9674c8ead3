"""Swap models N times in a fresh process and print the resident memory after each swap, as JSON.

Run by tests/test_model_swap.py in a subprocess, so that other tests' memory does not interfere:
    python -m tests.swap_probe MODELS_DIR USER_DATA_DIR N GGUF_ID HF_ID
"""

from __future__ import annotations

import json
import sys

import psutil

from backends.sampling import GREEDY
from webui.app import build_app
from webui.chat.conversation import Message
from webui.cli import settings_from_args


def chat_once(app) -> str:
    """One short reply from whatever model is loaded."""
    reply = app.chat.reply([Message(role="user", content="Hi!")], GREEDY.model_copy(update={"max_new_tokens": 4}))
    return "".join(reply)


def main(argv: list[str]) -> int:
    """Swap `n` times between two catalog models; print one RSS figure (bytes) per swap."""
    models_dir, user_data, n, first, second = argv[0], argv[1], int(argv[2]), argv[3], argv[4]
    app = build_app(settings_from_args(["--models-dir", models_dir, "--user-data-dir", user_data, "--n-ctx", "1024"]))
    process = psutil.Process()
    rss = []
    for _ in range(n):
        for model_id in (first, second):
            loaded = app.load_model(model_id)
            assert loaded.model_id == model_id
            chat_once(app)
        rss.append(process.memory_info().rss)
    app.models.unload()
    print(json.dumps({"rss": rss, "loaders": [first, second]}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
