#!/usr/bin/env bash
# Two or more training runs side by side on the one GPU, each a device_chain.sh link (one training process alone
# is launch-bound: a second one costs each run far less than half its speed):
#   bash reference/nano/device_pair.sh MINUTES TOTAL DRILLS COPY "RUN=a VAR=... ..." "RUN=b VAR=... ..."
# Every run reads the same data (MIX / SEED_BASE from the environment), generated here once; the first run
# tokenizes it, the others start once its ids are cached. Each run's $OUT is $OUT/RUN.
set -euo pipefail
cd "$(dirname "$0")"
minutes="$1" total="$2" drills="$3" copy="$4"
shift 4
export GEN="/root/nano/gen-$drills-${MIX:-eval}-${SEED_BASE:-20260600}"
[ -s "$GEN/prompts.jsonl.gz" ] || bash device_data.sh 4500 16 "$GEN" "$drills" "${MIX:-eval}" "${SEED_BASE:-20260600}"
pids=()
for spec in "$@"; do
  # shellcheck disable=SC2086  # spec is a list of VAR=value words
  env $spec bash device_chain.sh "$minutes" "$total" "$drills" "$copy" 0 &
  pids+=($!)
  while [ ! -s "$GEN/ids.npz" ] && kill -0 "${pids[0]}" 2>/dev/null; do sleep 2; done
done
status=0
for p in "${pids[@]}"; do wait "$p" || status=$?; done
exit $status
