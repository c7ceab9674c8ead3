"""The OpenAI-compatible HTTP API (FastAPI), served on its own port when `--api` is given."""
