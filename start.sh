#!/usr/bin/env bash
# Set up Jielong (a virtual environment with requirements.txt) and start it.
#   ./start.sh [server.py flags]     e.g. ./start.sh --model models/my.gguf
#   ./start.sh --setup-only          only create/refresh the environment
# GPU builds of llama-cpp-python: CMAKE_ARGS="-DGGML_CUDA=on" ./start.sh (or -DGGML_METAL=on).
set -euo pipefail
cd "$(dirname "$0")"

requirements="${JIELONG_REQUIREMENTS:-requirements.txt}"
python="${PYTHON:-python3}"

if [ ! -x .venv/bin/python ]; then
  echo "Creating the virtual environment in .venv ..."
  "$python" -m venv .venv
fi

# Reinstall only when the requirement files changed since the last successful install.
stamp=".venv/.installed-$requirements"
wanted="$(cat requirements*.txt | sha256sum | cut -d' ' -f1)"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$wanted" ]; then
  echo "Installing $requirements (the first run builds llama-cpp-python: about 5 minutes) ..."
  .venv/bin/python -m pip install --disable-pip-version-check -q -r "$requirements"
  echo "$wanted" > "$stamp"
fi

if [ "${1:-}" = "--setup-only" ]; then
  exit 0
fi
exec .venv/bin/python server.py "$@"
