#!/usr/bin/env bash
# Sets up, builds and runs baleen's main job on the embedded default model.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh release >/dev/null
build/release/src/app/baleen version
