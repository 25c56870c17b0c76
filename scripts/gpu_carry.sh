#!/usr/bin/env bash
# Copies what scripts/gpu_test.sh needs (sources, tests, benchmarks, CMake files, scripts) into
# /work/main/.devcarry/<name>/ — the folder that travels to the GPU machine (carry [".devcarry/<name>"]) —
# with the Debian packages the kernels-only build links, as .deb files in its deps/ (apt-get download).
set -euo pipefail
cd "$(dirname "$0")/.."
dest="/work/main/.devcarry/${1:-cuda}"
mkdir -p "$dest/deps"
rsync -a --delete --exclude build --exclude deps --exclude .deps --exclude logs --exclude fixtures \
  CMakeLists.txt cmake src tests bench scripts "$dest/"
(cd "$dest/deps" && apt-get download -q libgtest-dev libbenchmark-dev libbenchmark1debian libfmt-dev libfmt9 \
  nlohmann-json3-dev >/dev/null 2>&1)
du -sh "$dest"
