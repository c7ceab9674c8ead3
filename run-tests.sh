#!/usr/bin/env bash
# Set up Jielong with its test requirements, then lint and run the whole test suite.
#   ./run-tests.sh [pytest arguments]     e.g. ./run-tests.sh -m "not slow"
set -euo pipefail
cd "$(dirname "$0")"

JIELONG_REQUIREMENTS=requirements-dev.txt ./start.sh --setup-only

# The browser tests drive Debian's Chromium; install it when missing.
if [ ! -x /usr/bin/chromium ]; then
  echo "Installing Debian's chromium for the browser tests ..."
  sudo_cmd=""
  [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
  $sudo_cmd apt-get update -q
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -q chromium
fi

# The Chinese UI's screenshots need a CJK font (without one, Chinese renders as empty boxes).
if ! fc-list :lang=zh 2>/dev/null | grep -q .; then
  sudo_cmd=""
  [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
  $sudo_cmd apt-get update -q
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -q fonts-wqy-microhei
fi

.venv/bin/ruff check .
exec .venv/bin/python -m pytest "$@"
