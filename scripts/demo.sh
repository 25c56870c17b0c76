#!/usr/bin/env bash
# Sets up, builds and runs baleen's main job on the embedded default model (models/baleen-nano):
# inspect the checkpoint, then one chat turn on the CPU (a few seconds on 2 cores).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh release >/dev/null
baleen=build/release/src/app/baleen
$baleen version
$baleen inspect --model models/baleen-nano
$baleen run --thinking -n 96 -p "Who are you?"
