#!/usr/bin/env bash
# Serve the dialog artifact with vLLM on a GPU machine and check, in one short run, that tool
# calls come back parsed (hermes parser) and how fast it decodes. Prepared, not run in the CPU
# development session (no GPU there).
#
#   pip install -e '.[gpu]'            # vllm
#   bash bench/vllm_gpu.sh artifacts/dialog/full [port]
#
# Writes bench/results/dialog_vllm.json.
set -euo pipefail
cd "$(dirname "$0")/.."
MODEL=${1:-artifacts/dialog/full}
PORT=${2:-8011}
LOG=$(mktemp)
vllm serve "$MODEL" --served-model-name shopmind-dialog --port "$PORT" \
  --enable-auto-tool-choice --tool-call-parser hermes --max-model-len 4096 \
  --gpu-memory-utilization 0.3 >"$LOG" 2>&1 &
SERVER=$!
trap 'kill $SERVER 2>/dev/null || true' EXIT
for _ in $(seq 1 180); do
  curl -sf "http://127.0.0.1:$PORT/v1/models" >/dev/null && break
  kill -0 $SERVER 2>/dev/null || { cat "$LOG"; exit 1; }
  sleep 1
done
PYTHONPATH=. python - "$PORT" <<'PY'
import json, statistics, sys, time
from concurrent.futures import ThreadPoolExecutor
from openai import OpenAI
from finetune.dialog.data import role_tools

client = OpenAI(base_url=f"http://127.0.0.1:{sys.argv[1]}/v1", api_key="x")
tools = role_tools("operator")
asks = ["How likely is customer 17850 to buy again in the next 60 days?",
        "Show me the profile of customer 12347.", "Recommend 5 products for customer 13085."]
calls = []
for ask in asks:
    reply = client.chat.completions.create(model="shopmind-dialog", tools=tools, max_tokens=96,
                                           messages=[{"role": "user", "content": ask}],
                                           temperature=0)
    message = reply.choices[0].message
    calls.append({"ask": ask, "tool_calls": [c.function.model_dump() for c in message.tool_calls or []],
                  "content": message.content})

def decode(_):
    started = time.perf_counter()
    reply = client.chat.completions.create(
        model="shopmind-dialog", max_tokens=256, temperature=0,
        messages=[{"role": "user", "content": "Describe our shop's return policy in detail."}],
        extra_body={"ignore_eos": True, "min_tokens": 256})
    return reply.usage.completion_tokens, time.perf_counter() - started

single = [decode(0) for _ in range(3)]
with ThreadPoolExecutor(32) as pool:
    started = time.perf_counter()
    batch = list(pool.map(decode, range(64)))
    wall = time.perf_counter() - started
result = {
    "tool_calls": calls,
    "parsed_tool_calls": sum(bool(c["tool_calls"]) for c in calls),
    "single_stream_tok_s_median": statistics.median(n / s for n, s in single),
    "concurrent_64x256_tok_s": sum(n for n, _ in batch) / wall,
}
json.dump(result, open("bench/results/dialog_vllm.json", "w"), indent=2)
print(json.dumps(result, indent=2))
PY
