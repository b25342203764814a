#!/usr/bin/env bash
# The test suite: set up (or reuse) the environment, then run pytest. Extra args go to pytest.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
exec .venv/bin/python -m pytest "$@"
