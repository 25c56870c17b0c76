#!/usr/bin/env bash
# On the GPU machine: every command that runs a model, once with --backend cuda on baleen-nano — run,
# generate, logits (compared with --backend cpu), chat, agent and serve (one chat completion over HTTP).
# Usage: scripts/gpu_cli.sh BALEEN_BINARY [OUT_DIR]. Prints one line per command: ok or what failed.
set -uo pipefail
cd "$(dirname "$0")/.."
bin=$1
out=${2:-${OUT:-logs/gpu}}
mkdir -p "$out"
model=models/baleen-nano
for gz in $model/*.safetensors.gz; do [ -f "${gz%.gz}" ] || gunzip -kf "$gz"; done
say() { echo "$1: $2"; }
step() {  # name, command...
  local name=$1
  shift
  if timeout 120 "$@" >"$out/cli_$name.log" 2>&1; then say "$name" "ok ($(tail -c 200 "$out/cli_$name.log" | tr '\n' ' '))"
  else say "$name" "FAILED exit $? ($(tail -c 400 "$out/cli_$name.log" | tr '\n' ' '))"; fi
}
step run "$bin" run --backend cuda --model $model -p "What is 17 times 23?" -n 256
step generate "$bin" generate --backend cuda --model $model --ids 0,100,200,300 -n 16
ids=tests/fixtures/nano_parity/plain_chat/ids.npy
step logits_cuda "$bin" logits --backend cuda --model $model --ids $ids --out "$out/logits_cuda.npy" --kv-storage fp32
step logits_cpu "$bin" logits --backend cpu --model $model --ids $ids --out "$out/logits_cpu.npy" --kv-storage fp32
python3 - "$out" <<'PY' || true
import sys, numpy as np
a, b = (np.load(f"{sys.argv[1]}/logits_{n}.npy") for n in ("cuda", "cpu"))
print(f"logits cuda vs cpu: relative L2 {np.linalg.norm(a - b) / np.linalg.norm(b):.3g}, "
      f"top-1 {int((a.argmax(-1) == b.argmax(-1)).sum())}/{len(b)}")
PY
step chat bash -c "printf 'Hello!\n/exit\n' | '$bin' chat --backend cuda --model $model -n 32"
mkdir -p /tmp/gpu_cli_root && printf 'one\ntwo\nthree\n' >/tmp/gpu_cli_root/notes.txt
step agent "$bin" agent --backend cuda --model $model --sandbox function --root /tmp/gpu_cli_root \
  -p "How many lines are in notes.txt?" --max-steps 4 --log "$out/agent.trajectory"
"$bin" serve --backend cuda --model $model --port 18123 >"$out/cli_serve.log" 2>&1 &
server=$!
for _ in $(seq 60); do curl -sf localhost:18123/health >/dev/null 2>&1 && break; sleep 0.5; done
step serve curl -sf localhost:18123/v1/chat/completions -H 'Content-Type: application/json' \
  -d '{"model": "baleen-nano", "max_tokens": 32, "messages": [{"role": "user", "content": "Say hi."}]}'
kill "$server" 2>/dev/null
wait "$server" 2>/dev/null
true
