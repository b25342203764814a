#!/usr/bin/env bash
# The main job: set up, build what the default shop needs, start the assistant on 127.0.0.1.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
exec .venv/bin/shopmind up "$@"
