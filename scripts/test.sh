#!/usr/bin/env bash
# The test suite: set up (or reuse) the environment, lint (ruff, the config in pyproject.toml),
# then run pytest. Extra args go to pytest.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
# The browser tests drive Debian's chromium with Playwright; install it once if we can (root +
# apt), otherwise those tests skip and say why.
if [ ! -x /usr/bin/chromium ] && command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
  echo "[test] installing chromium for the browser tests ..."
  (apt-get update -qq && apt-get install -y -qq chromium >/dev/null) \
    || echo "[test] could not install chromium: the browser tests will be skipped"
fi
.venv/bin/python -m ruff check .
exec .venv/bin/python -m pytest "$@"
