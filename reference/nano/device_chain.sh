#!/usr/bin/env bash
# One link of a training run longer than one device call (a call is at most 10 minutes; the machine stays
# warm 30 s after it, and only files outside the repository copy survive to the next call):
#   bash reference/nano/device_chain.sh MINUTES_THIS_CALL TOTAL_MINUTES [DRILLS/SHARD [COPY WEIGHT [EVAL TASKS]]]
# The first call generates the data (device_data.sh) into /root/nano and trains from scratch; each later call on
# the same warm machine reuses the data and resumes from /root/nano/[RUN.]state.pt. Every call exports the
# checkpoint and scores it (device_run.sh), so the last call's $OUT is the model. MIX=packed: v3's data mix
# (gen_data.py --mix). SEED_BASE: the data's seeds (default v3's). GEN=DIR: data made elsewhere (device_pair.sh).
# RUN=NAME: a run that shares the machine with others. SHAPE: spec.py's shape. LR: peak lr.
# EVAL TASKS 0: no pilot eval (the real eval is baleen's, on the dev machine).
set -euo pipefail
cd "$(dirname "$0")"
minutes="$1" total="$2" drills="${3:-1500}" copy="${4:-1}" tasks="${5:-24}" keep=/root/nano
mix="${MIX:-eval}" base="${SEED_BASE:-20260600}"
gen="${GEN:-$keep/gen-$drills-$mix-$base}"
state="$keep/${RUN:+$RUN.}state.pt"
mkdir -p "$keep"
[ -s "$gen/prompts.jsonl.gz" ] || bash device_data.sh 4500 16 "$gen" "$drills" "$mix" "$base"
opts=()  # train.py options: where the weights come from, the shape, the lr
if [ "${REQUIRE_STATE:-0}" = 1 ] && [ ! -s "$state" ]; then
  echo "no $state: this is a new machine, the chain is broken" >&2
  exit 3
fi
[ -s "$state" ] && opts=(--resume "$state") && echo "resuming from $state"
# INIT=TAR.XZ (of an exported checkpoint: fp8/...) or INIT=DIR (a checkpoint directory with gzipped shards, like
# models/baleen-nano) INIT_ELAPSED=S INIT_STEP=N: continue from exported weights with a fresh optimizer (the
# warm machine holding the state was lost, or a finished model is trained further).
if [ ${#opts[@]} = 0 ] && [ -n "${INIT:-}" ]; then
  init="$keep/init-${RUN:-nano}"
  mkdir -p "$init/fp8"
  if [ -d "$INIT" ]; then
    for f in "$INIT"/*.safetensors.gz; do gzip -dc "$f" > "$init/fp8/$(basename "${f%.gz}")"; done
  else
    xz -dc "$INIT" | tar xf - -C "$init"
  fi
  opts=(--init-from "$init/fp8" --init-elapsed "${INIT_ELAPSED:-0}" --init-step "${INIT_STEP:-0}")
  echo "continuing from the weights in $INIT"
fi
[ -n "${SHAPE:-}" ] && opts+=(--shape "$SHAPE")
[ -n "${LR:-}" ] && opts+=(--lr "$LR")
bash device_run.sh "$minutes" "$gen/prompts.jsonl.gz" fp8 fp8 "${opts[@]}" --save-state "$state.next" \
  --schedule-minutes "$total" --copy-weight "$copy" --ids-cache "$gen/ids.npz" --tokens-per-batch "${TPB:-auto}" --eval-limit "$tasks" --eval-seconds $((tasks * 3 / 2))
mv "$state.next" "$state"
